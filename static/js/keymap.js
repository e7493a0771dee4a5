// One keymap for the pilot, labelling and arbitration pages: each key means one thing
// everywhere. A page says which actions it has with Keymap.bind(actions); the keys of the
// other actions do nothing there. "?" lists the page's keys in an overlay.
//
//   Keymap.bind({
//     next: (event) => ...,          // the handler of an action; it may return false
//     previous: (event) => ...,      // to let the key through (nothing was done)
//     hotkey: (event, n) => ...,     // n: 1–9 (the digit); take: the same for Shift+digit
//   }, { describe: { hotkey: "tick / untick your category n" } })   // page wording, optional
//   → { unbind() }
//
// Keys are ignored while the rater types in a field, except those marked whileTyping
// (Ctrl+Enter submits from the note, the search box or the proposal form). Keys with
// Ctrl, Alt or Meta are ignored unless the table names them (Ctrl+Enter, Alt+←/→).
// The table is the one place keys are written; templates show them from it with
// <kbd data-action="next"></kbd> (filled in by Keymap.label) or write them by hand.
(() => {
  // key: what event.key must be; code: what event.code must be (digits with Shift, whose
  // event.key depends on the keyboard layout); mods: the modifiers that must be down.
  const TABLE = [
    { action: "help", keys: [{ key: "?" }], label: "?", description: "show / hide this list of keys" },
    { action: "search", keys: [{ key: "/" }], label: "/", description: "search the categories (pilot: the code box)" },
    { action: "next", keys: [{ key: "j" }, { key: "ArrowRight", mods: ["alt"] }], label: "j", alt: "Alt+→", description: "next item" },
    { action: "previous", keys: [{ key: "k" }, { key: "ArrowLeft", mods: ["alt"] }], label: "k", alt: "Alt+←", description: "previous item" },
    { action: "hotkey", digits: true, label: "1–9", description: "tick / untick the category on that key" },
    { action: "take", digits: true, shift: true, label: "Shift+1–9", description: "take that rater's label as the final one" },
    { action: "false_positive", keys: [{ key: "f" }], label: "f", description: "False positive (again: back to categories)" },
    { action: "unclear", keys: [{ key: "u" }], label: "u", description: "Unclear (again: back to categories)" },
    { action: "pending", keys: [{ key: "p" }], label: "p", description: "Pending (again: back to categories)" },
    { action: "propose", keys: [{ key: "n" }], label: "n", description: "propose a new category" },
    { action: "code", keys: [{ key: "c" }], label: "c", description: "type a code (pilot)" },
    { action: "reason", keys: [{ key: "r" }], label: "r", description: "write the reason (arbitration)" },
    { action: "submit", keys: [{ key: "Enter", mods: ["ctrl"] }, { key: "Enter", mods: ["meta"] }], whileTyping: true,
      label: "Ctrl+Enter", description: "submit (from any field, the proposal form included)" },
  ];
  // Keys handled inside a field by the page itself, listed in the overlay for completeness.
  const FIELD_KEYS = [
    { label: "↑ ↓ Enter", description: "in the search: move in the matches, tick / untick one", when: "search" },
    { label: "Esc", description: "leave the field (or close this list)", when: null },
  ];

  const typing = (el) => el instanceof HTMLElement &&
    (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));

  function modsMatch(event, mods = []) {
    return ["ctrl", "alt", "meta"].every((m) => Boolean(event[`${m}Key`]) === mods.includes(m));
  }

  // The entry and argument an event stands for, or null.
  function match(event) {
    for (const entry of TABLE) {
      if (entry.digits) {
        const digit = /^Digit([1-9])$/.exec(event.code || "");
        const key = /^[1-9]$/.test(event.key) ? Number(event.key) : null;
        if (!modsMatch(event)) continue;
        if (entry.shift && event.shiftKey && digit) return { entry, arg: Number(digit[1]) };
        if (!entry.shift && !event.shiftKey && key) return { entry, arg: key };
        continue;
      }
      for (const k of entry.keys) {
        // "?" and "/" may need Shift depending on the layout: Shift is not compared for them.
        if (event.key === k.key && modsMatch(event, k.mods)) return { entry, arg: null };
      }
    }
    return null;
  }

  let bound = null; // { actions, describe }

  function onKey(event) {
    if (!bound || event.defaultPrevented || event.isComposing) return;
    const overlay = document.getElementById("keymap-overlay");
    if (overlay && overlay.open && event.key === "Escape") return; // the dialog closes itself
    const found = match(event);
    if (!found) return;
    const { entry, arg } = found;
    if (typing(event.target) && !entry.whileTyping) return;
    if (entry.action === "help") {
      event.preventDefault();
      event.stopPropagation();
      toggleHelp();
      return;
    }
    const handler = bound.actions[entry.action];
    if (!handler) return;
    if (handler(event, arg) !== false) {
      event.preventDefault();
      event.stopPropagation(); // a key the keymap handled is not handled again (app.js's "/")
    }
  }

  function describe(entry) {
    return (bound && bound.describe[entry.action]) || entry.description;
  }

  function kbd(text) {
    const el = document.createElement("kbd");
    el.textContent = text;
    return el;
  }

  // The overlay is built from the table with the DOM (no inline style or markup strings).
  function buildHelp() {
    const dialog = document.createElement("dialog");
    dialog.id = "keymap-overlay";
    dialog.className = "keymap-overlay";
    dialog.setAttribute("aria-labelledby", "keymap-title");
    const title = document.createElement("h2");
    title.id = "keymap-title";
    title.textContent = "Keys";
    const list = document.createElement("dl");
    list.className = "keymap-list";
    const rows = TABLE.filter((e) => e.action === "help" || bound.actions[e.action])
      .map((e) => ({ keys: [e.label, e.alt].filter(Boolean), description: describe(e) }))
      .concat(FIELD_KEYS.filter((f) => !f.when || bound.actions[f.when])
        .map((f) => ({ keys: [f.label], description: f.description })));
    for (const row of rows) {
      const dt = document.createElement("dt");
      row.keys.forEach((k, i) => {
        if (i) dt.append(" or ");
        dt.append(kbd(k));
      });
      const dd = document.createElement("dd");
      dd.textContent = row.description;
      list.append(dt, dd);
    }
    const close = document.createElement("button");
    close.type = "button";
    close.className = "small";
    close.textContent = "Close";
    close.addEventListener("click", () => dialog.close());
    const form = document.createElement("p");
    form.append(close);
    dialog.append(title, list, form);
    dialog.addEventListener("click", (event) => { if (event.target === dialog) dialog.close(); });
    document.body.append(dialog);
    return dialog;
  }

  function toggleHelp() {
    let dialog = document.getElementById("keymap-overlay");
    if (dialog && dialog.open) {
      dialog.close();
      return;
    }
    if (dialog) dialog.remove(); // built again: the page's actions may have changed
    dialog = buildHelp();
    dialog.showModal();
  }

  // Fill <kbd data-action="..."> elements (under root) with the action's key from the table.
  function label(root = document) {
    root.querySelectorAll("kbd[data-action]").forEach((el) => {
      const entry = TABLE.find((e) => e.action === el.dataset.action);
      if (entry && !el.textContent) el.textContent = entry.label;
    });
  }

  function bind(actions, options = {}) {
    const mine = { actions: { ...actions }, describe: { ...(options.describe || {}) } };
    bound = mine;
    label();
    return { unbind() { if (bound === mine) bound = null; } };
  }

  // Capture: the keymap sees a key before the page's other listeners.
  document.addEventListener("keydown", onKey, true);
  document.addEventListener("htmx:afterSwap", (event) => label(event.detail.target || document));

  window.Keymap = {
    bind, label, match,
    toggleHelp,
    // The table, read-only, for pages that write their own legend and for tests.
    table: () => TABLE.map((e) => ({ action: e.action, label: e.label, alt: e.alt || null, description: e.description })),
  };
})();
