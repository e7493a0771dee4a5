// Pilot coding pages: keyboard shortcuts, and keeping the code box usable across htmx swaps.
(() => {
  const isTyping = (el) =>
    el instanceof HTMLElement && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));

  const codeBox = () => document.getElementById("code-text");

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const box = codeBox();
    if (isTyping(event.target)) {
      // In the code box: arrow down moves into the suggestions, Escape leaves.
      if (event.target === box && event.key === "ArrowDown") {
        const first = document.querySelector("#code-suggestions button");
        if (first) { event.preventDefault(); first.focus(); }
      } else if (event.target === box && event.key === "Escape") {
        box.blur();
      }
      return;
    }
    if (event.target instanceof HTMLElement && event.target.matches("#code-suggestions button")) {
      const buttons = [...document.querySelectorAll("#code-suggestions button")];
      const index = buttons.indexOf(event.target);
      if (event.key === "ArrowDown" && index + 1 < buttons.length) { event.preventDefault(); buttons[index + 1].focus(); return; }
      if (event.key === "ArrowUp") { event.preventDefault(); (index > 0 ? buttons[index - 1] : box).focus(); return; }
    }
    const go = (id) => { const link = document.getElementById(id); if (link) { event.preventDefault(); window.location.assign(link.href); } };
    switch (event.key) {
      case "j": case "n": go("item-next"); break;
      case "k": case "p": go("item-prev"); break;
      case "c": case "/":
        if (box) { event.preventDefault(); event.stopImmediatePropagation(); box.focus(); }
        break;
      default:
    }
  }, true);

  // After a code is added or removed the section is replaced: put the cursor back in the box.
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target instanceof HTMLElement && event.detail.target.id === "item-codes") {
      const box = codeBox();
      if (box) box.focus();
    }
  });
})();
