// Keyboard: "/" focuses the search box of the page, if it has one.
document.addEventListener("keydown", (event) => {
  const target = event.target;
  const typing = target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  if (event.key === "/" && !typing) {
    const search = document.querySelector("input[type=search]");
    if (search) {
      event.preventDefault();
      search.focus();
    }
  }
});

// Upload progress for forms sent by htmx (large dumps take a while to upload).
document.addEventListener("htmx:xhr:progress", (event) => {
  const form = event.target.closest ? event.target.closest("form") : null;
  const box = form && form.querySelector(".upload-progress");
  if (!box || !event.detail.lengthComputable) return;
  const percent = Math.round((100 * event.detail.loaded) / event.detail.total);
  box.hidden = false;
  box.querySelector("progress").value = percent;
  box.querySelector(".upload-percent").textContent = `${percent} %`;
});

// Charts are images drawn by the server: if one cannot be drawn, say so instead
// of showing a broken image. (Error events do not bubble: listen while capturing.)
document.addEventListener("error", (event) => {
  const img = event.target;
  if (!(img instanceof HTMLImageElement) || !img.closest("figure.chart")) return;
  const note = document.createElement("p");
  note.className = "error chart-error";
  note.textContent = "The chart could not be drawn.";
  img.replaceWith(note);
}, true);

// The statistics section of a set page is loaded after the page (htmx); if the
// server fails, replace "Computing…" by an error, keeping the link to the page.
document.addEventListener("htmx:responseError", (event) => {
  const box = event.detail.elt;
  if (!(box instanceof HTMLElement) || !box.classList.contains("statistics-loading")) return;
  const text = box.querySelector("p");
  if (text) {
    text.classList.add("error");
    text.firstChild.textContent = "The statistics could not be computed. ";
  }
});

// A button with data-disabled-while="<selector>" is disabled while the page has a match: the
// draw form's Draw while its preview reports a stratum that cannot be drawn. Only a hint: the
// server refuses such a form anyway.
function disabledWhileUpdate() {
  for (const button of document.querySelectorAll("[data-disabled-while]")) {
    button.disabled = document.querySelector(button.dataset.disabledWhile) !== null;
  }
}
document.addEventListener("DOMContentLoaded", disabledWhileUpdate);
document.addEventListener("htmx:afterSettle", disabledWhileUpdate);

// Forms that change something for good ask first: <form data-confirm="…">, or
// <button data-confirm="…"> for one button of a form. Dismissing the dialog sends nothing.
// Forms sent by htmx ask with htmx's own hx-confirm="…" instead (htmx sends them before this
// listener on the document would hear the submit).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const question = (event.submitter && event.submitter.dataset.confirm) || form.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

// An upload refused for its declared size (413 before the body is read, annotator/middleware.py):
// the form that sent it says why, and the progress bar goes away. Handled before htmx would
// treat it as an error: there is nothing to swap.
document.addEventListener("htmx:beforeSwap", (event) => {
  const form = event.detail.requestConfig.elt;  // the form (event.detail.elt is the target)
  if (!(form instanceof HTMLFormElement) || event.detail.xhr.status !== 413) return;
  event.detail.shouldSwap = false;
  event.detail.isError = false;
  let note = form.querySelector(".upload-refused");
  if (!note) {
    note = document.createElement("p");
    note.className = "error upload-refused";
    note.setAttribute("role", "alert");
    form.prepend(note);
  }
  note.textContent = event.detail.xhr.responseText;
  const box = form.querySelector(".upload-progress");
  if (box) box.hidden = true;
});
