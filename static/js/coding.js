// Pilot coding pages: the keys of static/js/keymap.js (j / k next / previous, c or / the code
// box, ? the list), and keeping the code box usable across htmx swaps.
(() => {
  const codeBox = () => document.getElementById("code-text");

  const go = (id) => {
    const link = document.getElementById(id);
    if (!link) return false;
    window.location.assign(link.href);
    return true;
  };
  const focusBox = () => {
    const box = codeBox();
    if (!box) return false;
    box.focus();
    return true;
  };

  if (window.Keymap) {
    window.Keymap.bind({
      next: () => go("item-next"),
      previous: () => go("item-prev"),
      code: focusBox,
      search: focusBox,
    }, { describe: { search: "type a code (the code box)" } });
  }

  // Inside the code box and its suggestions: arrows move, Escape leaves.
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const box = codeBox();
    if (event.target === box) {
      if (event.key === "ArrowDown") {
        const first = document.querySelector("#code-suggestions button");
        if (first) { event.preventDefault(); first.focus(); }
      } else if (event.key === "Escape") {
        box.blur();
      }
      return;
    }
    if (event.target instanceof HTMLElement && event.target.matches("#code-suggestions button")) {
      const buttons = [...document.querySelectorAll("#code-suggestions button")];
      const index = buttons.indexOf(event.target);
      if (event.key === "ArrowDown" && index + 1 < buttons.length) { event.preventDefault(); buttons[index + 1].focus(); }
      else if (event.key === "ArrowUp") { event.preventDefault(); (index > 0 ? buttons[index - 1] : box).focus(); }
    }
  });

  // After a code is added or removed the section is replaced: put the cursor back in the box.
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target instanceof HTMLElement && event.detail.target.id === "item-codes") {
      const box = codeBox();
      if (box) box.focus();
    }
  });
})();
