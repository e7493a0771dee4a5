// The workbench of labelling, arbitration and the Pending queue (static/css/workbench.css): the
// post on the left, which the window scrolls, and a side panel on the right, sticky and as high as
// the window leaves below where the grid starts, so that every control is in view without scrolling.
// fit() writes that start to --workbench-top on <html> (never swapped by htmx), through the CSSOM
// (which the CSP allows; a style attribute it would not). Measured on the grid, not on the panel:
// a sticky panel's box is where it sticks, not where it starts, once the window is scrolled.
// Loaded before the page's own script, so the height is set before that script places the focus.
(() => {
  function fit() {
    const grid = document.querySelector(".workbench");
    if (!grid) return;
    const top = grid.getBoundingClientRect().top + window.scrollY;
    document.documentElement.style.setProperty("--workbench-top", `${Math.max(0, Math.round(top))}px`);
  }

  document.addEventListener("DOMContentLoaded", fit);
  window.addEventListener("resize", fit);
  // afterSwap: the panel swapped by htmx (the next item, a form back with its errors) may start
  // elsewhere; the window may still be scrolled then (htmx scrolls on settle).
  document.addEventListener("htmx:afterSwap", fit);
})();
