// Copy buttons: put the value of data-copy on the clipboard and say so on the button.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    if (!navigator.clipboard) { button.hidden = true; return; }
    var label = button.textContent;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
        button.textContent = "✓";
        window.setTimeout(function () { button.textContent = label; }, 1500);
      });
    });
  });
})();
