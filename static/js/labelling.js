// The labelling panel, driven by the keyboard:
//   /            search the categories (type-ahead over their paths)
//   ↑ ↓ Enter    move in the matches and tick / untick one; Esc leaves the search
//   1–9          tick / untick the rater's most used categories
//   f u p        False positive / Unclear / Pending (again: back to categories)
//   n            propose a new category
//   [ ]          previous / next item
//   Ctrl+Enter   submit (from anywhere, the note included)
// The panel is swapped by htmx after each submission: every handler looks the
// elements up again instead of keeping them.
(() => {
  const VERDICT_KEYS = { f: "false_positive", u: "unclear", p: "pending" };

  const labelForm = () => document.getElementById("label-form");
  const search = () => document.getElementById("category-search");
  const options = () => Array.from(document.querySelectorAll("#category-options li[data-path]"));
  const typing = (el) => el instanceof HTMLElement && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));

  function currentKind(form) {
    const checked = form.querySelector("input[name=kind]:checked");
    return checked ? checked.value : "categories";
  }

  // A verdict excludes categories: their boxes are disabled (so not sent) but keep
  // their ticks, so that going back to "Categories" loses nothing.
  function syncKind() {
    const form = labelForm();
    if (!form) return;
    const special = currentKind(form) !== "categories";
    form.classList.toggle("verdict", special);
    form.querySelectorAll("input[name=categories]").forEach((box) => { box.disabled = special; });
  }

  function setKind(value) {
    const form = labelForm();
    const radio = form && form.querySelector(`input[name=kind][value="${value}"]`);
    if (radio) {
      radio.checked = true;
      syncKind();
    }
  }

  function toggleCategory(id) {
    const box = document.querySelector(`#category-options input[name=categories][value="${id}"]`);
    if (!box) return;
    setKind("categories");
    box.checked = !box.checked;
    box.closest("li").classList.add("flash");
    setTimeout(() => box.closest("li") && box.closest("li").classList.remove("flash"), 400);
  }

  // -- type-ahead ----------------------------------------------------------------------
  function visibleOptions() {
    return options().filter((li) => !li.hidden);
  }

  function highlight(li) {
    options().forEach((o) => o.classList.toggle("active", o === li));
    if (li) li.scrollIntoView({ block: "nearest" });
  }

  function filter() {
    const words = search().value.toLowerCase().split(/\s+/).filter(Boolean);
    let first = null;
    options().forEach((li) => {
      const match = words.every((w) => li.dataset.path.includes(w));
      li.hidden = !match;
      if (match && !first) first = li;
    });
    const none = document.querySelector(".categories .no-match");
    if (none) none.hidden = Boolean(first) || !words.length;
    highlight(words.length ? first : null);
  }

  function move(step) {
    const list = visibleOptions();
    if (!list.length) return;
    const index = list.findIndex((li) => li.classList.contains("active"));
    highlight(list[(index + step + list.length) % list.length]);
  }

  document.addEventListener("input", (event) => {
    if (event.target.id === "category-search") filter();
  });

  document.addEventListener("change", (event) => {
    if (event.target.name === "kind") syncKind();
    if (event.target.name === "categories" && event.target.checked) setKind("categories");
  });

  document.addEventListener("keydown", (event) => {
    const form = labelForm();
    if (!form) return;
    const target = event.target;

    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      if (target.closest && target.closest("#propose")) return; // Ctrl+Enter there is the proposal's own
      event.preventDefault();
      form.requestSubmit();
      return;
    }

    if (target.id === "category-search") {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        move(event.key === "ArrowDown" ? 1 : -1);
      } else if (event.key === "Enter") {
        event.preventDefault(); // never submits the label half-chosen
        const active = options().find((li) => li.classList.contains("active") && !li.hidden);
        if (active) {
          toggleCategory(active.querySelector("input").value);
          target.value = "";
          filter();
        }
      } else if (event.key === "Escape") {
        target.value = "";
        filter();
        target.blur();
        document.getElementById("labelling-panel").focus();
      }
      return;
    }

    if (typing(target) || event.ctrlKey || event.metaKey || event.altKey) return;

    if (/^[1-9]$/.test(event.key)) {
      const shortcut = document.querySelectorAll(".shortcuts li[data-category]")[Number(event.key) - 1];
      if (shortcut) {
        event.preventDefault();
        toggleCategory(shortcut.dataset.category);
      }
    } else if (VERDICT_KEYS[event.key]) {
      event.preventDefault();
      setKind(currentKind(form) === VERDICT_KEYS[event.key] ? "categories" : VERDICT_KEYS[event.key]);
    } else if (event.key === "n") {
      const details = document.getElementById("propose");
      if (details) {
        event.preventDefault();
        details.open = true;
        details.querySelector("input[name=name]").focus();
      }
    } else if (event.key === "[" || event.key === "]") {
      const link = document.querySelector(`.item-nav a[rel=${event.key === "[" ? "prev" : "next"}]`);
      if (link) {
        event.preventDefault();
        link.click();
      }
    }
  });

  // After a swap (the next item, or the form back with a message): keys work at once.
  // htmx puts the focus back on the element with the same id (the note, say); the
  // panel takes it instead, so that 1–9 / f / u / p act rather than type.
  function ready() {
    syncKind();
    const panel = document.getElementById("labelling-panel");
    if (!panel) return;
    const error = panel.querySelector("[role=alert]");
    if (error) error.scrollIntoView({ block: "center" });
    panel.focus({ preventScroll: true });
  }

  document.addEventListener("DOMContentLoaded", ready);
  // afterSwap, not afterSettle: it runs in the same task as the swap, so no key pressed
  // on the new panel can land before it (and have its focus taken away after).
  document.addEventListener("htmx:afterSwap", () => {
    if (document.getElementById("labelling-panel")) ready();
  });
})();
