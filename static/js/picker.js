// Choosing a label in a form (window.Picker): the kind (categories, or a verdict that excludes
// them) and the type-ahead over the leaf categories' full paths. One home for what the arbitration
// pages and the labelling panel both do; the markup it expects:
//   <input type="radio" name="kind" value="categories|false_positive|…">   (optional)
//   <input type="search" aria-controls="LIST-ID">  <ul id="LIST-ID"><li data-path="lower-case path">
//     <label><input type="checkbox|radio" …> Path</label></li></ul>  <p class="no-match" hidden>
// The form gets the class "verdict" while a verdict is chosen; ticks are kept (disabled, so not
// sent) so that going back to "Categories" loses nothing. Nothing is kept between calls: htmx may
// have swapped any element.
(() => {
  function kind(form) {
    const checked = form.querySelector("input[name=kind]:checked");
    return checked ? checked.value : "categories";
  }

  function syncKind(form) {
    if (!form) return;
    const special = kind(form) !== "categories";
    form.classList.toggle("verdict", special);
    form.querySelectorAll("input[name=categories]").forEach((box) => { box.disabled = special; });
  }

  function setKind(form, value) {
    const radio = form && form.querySelector(`input[name=kind][value="${value}"]`);
    if (!radio) return false;
    radio.checked = true;
    syncKind(form);
    return true;
  }

  // A verdict's key again goes back to categories.
  function toggleVerdict(form, value) {
    if (!form) return false;
    return setKind(form, kind(form) === value ? "categories" : value);
  }

  // -- type-ahead -----------------------------------------------------------------------------
  function options(search) {
    const list = search && document.getElementById(search.getAttribute("aria-controls"));
    return list ? Array.from(list.querySelectorAll("li[data-path]")) : [];
  }

  function highlight(search, li) {
    options(search).forEach((o) => o.classList.toggle("active", o === li));
    if (li) li.scrollIntoView({ block: "nearest" });
  }

  // Keep the options whose path holds every word typed; the first one is highlighted.
  function filter(search) {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    let first = null;
    options(search).forEach((li) => {
      const match = words.every((w) => li.dataset.path.includes(w));
      li.hidden = !match;
      if (match && !first) first = li;
    });
    const none = search.parentElement.querySelector(".no-match");
    if (none) none.hidden = Boolean(first) || !words.length;
    highlight(search, words.length ? first : null);
  }

  function move(search, step) {
    const list = options(search).filter((li) => !li.hidden);
    if (!list.length) return;
    const index = list.findIndex((li) => li.classList.contains("active"));
    highlight(search, list[(index + step + list.length) % list.length]);
  }

  function active(search) {
    return options(search).find((li) => li.classList.contains("active") && !li.hidden) || null;
  }

  // The keys inside the search box: ↑ ↓ move, Enter hands the highlighted option to choose(li)
  // (never sends the form half-chosen) and empties the search, Esc empties it and calls leave().
  // True when the key was the search's.
  function searchKey(event, { choose, leave }) {
    const search = event.target;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      move(search, event.key === "ArrowDown" ? 1 : -1);
    } else if (event.key === "Enter" && !(event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      const li = active(search);
      if (li) {
        choose(li);
        search.value = "";
        filter(search);
        li.scrollIntoView({ block: "nearest" }); // the whole list is back: keep the choice in view
      }
    } else if (event.key === "Escape") {
      search.value = "";
      filter(search);
      leave(search);
    } else {
      return false;
    }
    return true;
  }

  window.Picker = { kind, syncKind, setKind, toggleVerdict, options, filter, move, active, searchKey };
})();
