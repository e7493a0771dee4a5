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
