// The labelling panel, driven by the keyboard through the one keymap (static/js/keymap.js; "?"
// lists the keys):
//   /            search the categories (type-ahead over their paths)
//   ↑ ↓ Enter    in the search: move in the matches, tick / untick one; Esc leaves the search
//   1–9          tick / untick the category on the rater's key (set on "My keys"; never re-ranked)
//   f u p        False positive / Unclear / Pending (again: back to categories)
//   n            propose a new category
//   j k          next / previous item (or Alt+→ / Alt+←)
//   Ctrl+Enter   submit (from anywhere, the note included; in the proposal form: propose)
// The highlighted category's definition, inclusion / exclusion notes and examples are fetched
// into the panel (#category-notes). The panel is swapped by htmx after each submission: every
// handler looks the elements up again instead of keeping them. The panel's height (sticky, as high
// as the window leaves) is static/js/workbench.js's.
(() => {
  const labelForm = () => document.getElementById("label-form");
  const search = () => document.getElementById("category-search");
  const options = () => Array.from(document.querySelectorAll("#category-options li[data-path]"));

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
    if (!radio) return false;
    radio.checked = true;
    syncKind();
    return true;
  }

  function toggleVerdict(value) {
    const form = labelForm();
    if (!form) return false;
    return setKind(currentKind(form) === value ? "categories" : value);
  }

  function optionFor(id) {
    const box = document.querySelector(`#category-options input[name=categories][value="${id}"]`);
    return box ? box.closest("li") : null;
  }

  function toggleCategory(id) {
    const li = optionFor(id);
    if (!li) return false;
    const box = li.querySelector("input");
    setKind("categories");
    box.checked = !box.checked;
    li.classList.remove("flash");
    void li.offsetWidth; // restart the animation
    li.classList.add("flash");
    showNotes(id);
    return true;
  }

  // -- the highlighted category's notes -----------------------------------------------
  const notesCache = new Map(); // category id → HTML, for the item on screen
  let notesWanted = null;
  let notesTimer = null;

  function showNotes(id) {
    const box = document.getElementById("category-notes");
    if (!box || !id || String(id) === notesWanted) return;
    const wanted = String(id);
    notesWanted = wanted;
    clearTimeout(notesTimer);
    if (notesCache.has(wanted)) {
      box.innerHTML = notesCache.get(wanted);
      return;
    }
    // Moving through the matches with ↑↓ asks only for the one the rater stops on.
    notesTimer = setTimeout(() => {
      if (notesWanted !== wanted) return; // another item came in meanwhile
      const url = box.dataset.url.replace(/\/0\/$/, `/${wanted}/`);
      fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
        .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
        .then((html) => {
          notesCache.set(wanted, html);
          const current = document.getElementById("category-notes");
          if (current && notesWanted === wanted) current.innerHTML = html;
        })
        .catch(() => { if (notesWanted === wanted) notesWanted = null; });
    }, 120);
  }

  // -- type-ahead ----------------------------------------------------------------------
  function visibleOptions() {
    return options().filter((li) => !li.hidden);
  }

  function highlight(li) {
    options().forEach((o) => o.classList.toggle("active", o === li));
    if (li) {
      li.scrollIntoView({ block: "nearest" });
      showNotes(li.querySelector("input").value);
    }
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

  // A category the pointer rests on, or the keyboard focuses, is the highlighted one.
  document.addEventListener("mouseover", (event) => {
    const li = event.target instanceof Element && event.target.closest("#category-options li[data-path], #hotkeys li[data-category]");
    if (li) showNotes(li.dataset.category || li.querySelector("input").value);
  });
  document.addEventListener("focusin", (event) => {
    if (event.target instanceof HTMLInputElement && event.target.name === "categories") showNotes(event.target.value);
  });

  // The search box's own keys (the field is the rater's while they type in it).
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target.id !== "category-search" || event.ctrlKey || event.metaKey || event.altKey) return;
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
  });

  function follow(rel) {
    const link = document.querySelector(`#labelling-panel .item-nav a[rel=${rel}]`);
    if (!link) return false;
    link.click();
    return true;
  }

  if (window.Keymap) {
    window.Keymap.bind({
      search: () => {
        const box = search();
        if (!box) return false;
        box.focus();
        box.select();
        return true;
      },
      hotkey: (event, n) => {
        const key = document.querySelector(`#hotkeys li[data-key="${n}"][data-category]`);
        return key ? toggleCategory(key.dataset.category) : false;
      },
      false_positive: () => toggleVerdict("false_positive"),
      unclear: () => toggleVerdict("unclear"),
      pending: () => toggleVerdict("pending"),
      propose: () => {
        const details = document.getElementById("propose");
        if (!details) return false;
        details.open = true;
        details.querySelector("input[name=name]").focus();
        return true;
      },
      next: () => follow("next"),
      previous: () => follow("prev"),
      submit: (event) => {
        // In the proposal form Ctrl+Enter proposes; anywhere else it submits the label.
        const proposal = event.target instanceof Element && event.target.closest("#propose-form");
        const form = proposal || labelForm();
        if (!form) return false;
        form.requestSubmit();
        return true;
      },
    }, {
      describe: {
        search: "search the categories",
        hotkey: "tick / untick the category on your key (change them under “Change your keys”)",
        submit: "submit the label (in the proposal form: propose)",
      },
    });
  }

  document.addEventListener("click", (event) => {
    if (event.target instanceof Element && event.target.closest("#keys-help") && window.Keymap) {
      window.Keymap.toggleHelp();
    }
  });

  // After a swap (the next item, or the form back with a message): keys work at once.
  // htmx puts the focus back on the element with the same id (the note, say); the
  // panel takes it instead, so that 1–9 / f / u / p act rather than type.
  function ready() {
    syncKind();
    clearTimeout(notesTimer);
    notesCache.clear();
    notesWanted = null;
    const panel = document.getElementById("labelling-panel");
    if (!panel) return;
    const error = panel.querySelector("[role=alert]");
    if (error) error.scrollIntoView({ block: "nearest" });
    panel.focus({ preventScroll: true });
  }

  document.addEventListener("DOMContentLoaded", ready);
  // afterSwap, not afterSettle: it runs in the same task as the swap, so no key pressed
  // on the new panel can land before it (and have its focus taken away after).
  // Only the panel's own swaps: anything else loaded into the page later must not move the
  // cursor the rater has placed.
  document.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail && event.detail.target;
    if (target instanceof HTMLElement && target.id === "labelling-panel" && document.getElementById("labelling-panel")) {
      ready();
    }
  });
})();
