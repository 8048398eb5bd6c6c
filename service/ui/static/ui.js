// Keyboard shortcuts for the moderator page; everything also works without them.
(function () {
  "use strict";
  const ACTIONS = { a: "approve", l: "labels", h: "hold", b: "block" };
  // Shortcuts stay out of the way while typing (checkboxes and radios don't take letters).
  const TYPING = 'textarea, select, [contenteditable], input:not([type="checkbox"]):not([type="radio"]):not([type="submit"])';
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && target.closest && target.closest(TYPING)) return;
    const links = Array.from(document.querySelectorAll("a[data-queue-link]"));
    if (links.length && (event.key === "j" || event.key === "k")) {
      const at = links.indexOf(document.activeElement);
      const next = event.key === "j" ? Math.min(at + 1, links.length - 1) : Math.max(at - 1, 0);
      links[at < 0 ? 0 : next].focus();
      event.preventDefault();
      return;
    }
    const action = ACTIONS[event.key];
    if (action) {
      const radio = document.querySelector('input[name="action"][value="' + action + '"]');
      if (radio) {
        radio.checked = true;
        const reason = document.getElementById("reason");
        if (reason) reason.focus();
        event.preventDefault();
      }
    }
  });
})();
