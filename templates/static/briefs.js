// Progressive enhancement for the brief form: the page works without this file.
// The platform name only matters for "Other platform"; hide it otherwise (it stays in the
// form, and the server still checks it).
(function () {
  "use strict";
  var channel = document.getElementById("integration_channel");
  var field = document.getElementById("platform-field");
  if (!channel || !field) { return; }
  function sync() {
    var other = channel.value === "other";
    var invalid = field.querySelector("[aria-invalid='true']");
    field.hidden = !other && !invalid;
  }
  channel.addEventListener("change", sync);
  sync();
}());
