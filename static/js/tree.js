// The taxonomy tree: when a category's edit panel opens (htmx), bring it into view
// and put the cursor in its first field.
document.addEventListener("htmx:afterSwap", (event) => {
  const slot = event.detail.target;
  if (!(slot instanceof HTMLElement) || !slot.classList.contains("edit-slot")) return;
  const panel = slot.querySelector(".edit-panel");
  if (!panel) return;
  panel.scrollIntoView({ block: "nearest" });
  const field = panel.querySelector(".has-error input, .has-error select, input[type=text]");
  if (field) field.focus();
});
