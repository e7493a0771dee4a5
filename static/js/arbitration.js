// Arbitration at the speed of labelling: the item page and the Pending queue, driven by the keys
// of static/js/keymap.js (one keymap for pilot, labelling and arbitration; "?" lists them):
//   /            search the leaf categories (type-ahead over their full paths);
//                in the search ↑ ↓ move, Enter ticks / unticks (Pending: chooses), Esc leaves
//   Shift+1–9    take that rater's label as the final one (the reason says so; change it at will)
//   f u          False positive / Unclear (again: back to categories)
//   r            write the reason
//   Ctrl+Enter   save (from any field); the next item of the queue follows
//   j k          next / previous item of the queue
// The item panel is swapped by htmx (the next item, or the form back with its errors): every
// handler looks its elements up again instead of keeping them. The choice and the type-ahead
// are static/js/picker.js's (the labelling panel's too); the panel's height (sticky, as high as the
// window leaves) is static/js/workbench.js's.
(() => {
  const panel = () => document.getElementById("arbitration-panel");
  const pendingForm = () => document.getElementById("pending-form");
  const decideForm = () => document.getElementById("decide-form");
  const search = () => document.getElementById("category-search");
  const reason = () => document.querySelector("#decide-form textarea[name=reason], #pending-form textarea[name=reason]");

  // -- the choice (static/js/picker.js) ---------------------------------------------------------
  const syncKind = () => {
    window.Picker.syncKind(decideForm());
    showChosen();
  };
  const setKind = (value) => {
    const done = window.Picker.setKind(decideForm(), value);
    showChosen();
    return done;
  };
  const toggleVerdict = (value) => {
    const done = window.Picker.toggleVerdict(decideForm(), value);
    showChosen();
    return done;
  };

  // The chosen leaves, written under the list (which may be filtered or scrolled).
  function showChosen() {
    const line = document.getElementById("arb-chosen");
    if (!line) return;
    const form = line.closest("form");
    line.replaceChildren(...window.Picker.options(search())
      .filter((li) => li.querySelector("input:checked"))
      .map((li) => {
        const span = document.createElement("span");
        span.textContent = li.querySelector("label").textContent.trim();
        return span;
      }));
    line.hidden = form.classList.contains("verdict") || !line.childElementCount;
  }

  // Enter in the search: a leaf ticked or unticked (the item page), or chosen (Pending).
  function choose(li) {
    const box = li.querySelector("input");
    if (box.type === "radio") box.checked = true;
    else {
      setKind("categories");
      box.checked = !box.checked;
    }
    box.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function focusSearch() {
    const box = search();
    if (!box) return false;
    box.focus();
    box.select();
    return true;
  }

  function leaveField(field) {
    field.blur();
    const home = panel() || pendingForm();
    if (home) home.focus({ preventScroll: true });
  }

  // Keys inside the search box and the reason, the page's own (keymap.js's overlay lists them).
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (!(panel() || pendingForm())) return;
    if (target.id === "category-search") window.Picker.searchKey(event, { choose, leave: leaveField });
    else if (event.key === "Escape" && target.name === "reason") leaveField(target);
  });

  document.addEventListener("input", (event) => {
    if (event.target.id === "category-search" && (panel() || pendingForm())) window.Picker.filter(event.target);
  });

  document.addEventListener("change", (event) => {
    if (!panel()) return;
    if (event.target.name === "kind") syncKind();
    if (event.target.name === "categories") {
      if (event.target.checked) setKind("categories");
      showChosen();
    }
  });

  // -- take a rater's label -----------------------------------------------------------------
  // The form gets the rater's label; the reason "Took <rater>'s label." unless the arbitrator
  // has written one of their own (a default reason given before is replaced).
  function take(key) {
    const form = decideForm();
    const card = document.querySelector(`.arb-rater[data-take="${key}"]`);
    if (!form || !card) return false;
    const ids = new Set((card.dataset.categories || "").split(" ").filter(Boolean));
    setKind(card.dataset.kind);
    if (card.dataset.kind === "categories") {
      form.querySelectorAll("input[name=categories]").forEach((box) => { box.checked = ids.has(box.value); });
    }
    const field = reason();
    const defaults = Array.from(document.querySelectorAll(".arb-rater[data-reason]"), (c) => c.dataset.reason);
    if (field && (!field.value.trim() || defaults.includes(field.value.trim()))) field.value = card.dataset.reason;
    document.querySelectorAll(".arb-rater").forEach((c) => c.classList.toggle("taken", c === card));
    syncKind();
    return true;
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[data-take-key]");
    if (link && take(link.dataset.takeKey)) event.preventDefault();
    const help = event.target.closest && event.target.closest("[data-keys-help]");
    if (help && window.Keymap) window.Keymap.toggleHelp();
  });

  // -- the keys (static/js/keymap.js) ----------------------------------------------------------
  function go(rel) {
    const link = document.querySelector(`#arb-side .item-nav a[rel=${rel}]`);
    if (!link) return false;
    link.click(); // htmx swaps the item in and pushes its URL
    return true;
  }

  function submit(event) {
    const form = decideForm() || pendingForm();
    if (!form) return false;
    // Pending: Ctrl+Enter labels the chosen items (the first action); the other is a click away.
    const button = form.querySelector("button[type=submit], button:not([type])");
    form.requestSubmit(button || undefined);
    return true;
  }

  function focusReason() {
    const field = reason();
    if (!field) return false;
    field.focus();
    field.setSelectionRange(field.value.length, field.value.length);
    return true;
  }

  function bindKeys() {
    if (!window.Keymap) return;
    const queue = document.getElementById("arbitration-queue");
    if (queue) { // the arbitration page (no htmx swaps): j opens the first item of the queue
      const first = queue.querySelector("a");
      window.Keymap.bind({ next: () => Boolean(first && (first.click(), true)) },
        { describe: { next: "open the first item of the queue" } });
      return;
    }
    if (pendingForm()) {
      window.Keymap.bind({ search: focusSearch, reason: focusReason, submit }, {
        describe: {
          search: "search the leaf categories (an existing leaf for the chosen items)",
          submit: "label the chosen items",
        },
      });
      return;
    }
    if (!panel()) return;
    const raters = Array.from(document.querySelectorAll(".arb-rater[data-take]"),
      (card) => `Shift+${card.dataset.take} ${card.dataset.rater}`);
    const actions = { next: () => go("next"), previous: () => go("prev") };
    if (decideForm()) {
      Object.assign(actions, {
        search: focusSearch, reason: focusReason, submit,
        false_positive: () => toggleVerdict("false_positive"),
        unclear: () => toggleVerdict("unclear"),
      });
      if (raters.length) actions.take = (event, n) => take(String(n));
    }
    window.Keymap.bind(actions, {
      describe: {
        take: `take that rater's label as the final one (${raters.join(", ")}); the reason says so, change it at will`,
        search: "search the leaf categories",
        submit: "save the final label; the next item of the queue follows",
        next: "next item of the queue",
        previous: "previous item of the queue",
      },
    });
  }

  // After a swap (the next item, or the form back with a message): keys act at once, and
  // a refused reason takes the cursor.
  function ready() {
    syncKind();
    showChosen();
    bindKeys();
    const home = panel() || pendingForm();
    if (!home) return;
    const refused = home.querySelector("textarea[aria-invalid=true]");
    if (refused) {
      refused.focus();
      return;
    }
    const error = home.querySelector("[role=alert]");
    if (error) error.scrollIntoView({ block: "nearest" });
    home.focus({ preventScroll: true });
  }

  document.addEventListener("DOMContentLoaded", ready);
  // afterSwap, not afterSettle: in the same task as the swap, so no key lands on the new
  // panel before the focus is placed. Only the panel's own swaps: a panel loaded beside it
  // (the similar posts, loaded after the page) must not take the cursor out of the reason.
  document.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail && event.detail.target;
    if (target instanceof HTMLElement && target.id === "arbitration-panel" && panel()) ready();
  });
})();
