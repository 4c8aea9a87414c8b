// Scan a certificate's QR code with the phone camera, where the browser can decode QR codes
// itself (BarcodeDetector: Chrome on Android, recent Safari). Nothing is loaded from elsewhere;
// without the API the button stays hidden and typing or pasting still works.
(function () {
  "use strict";
  var box = document.querySelector("[data-scan]");
  if (!box || !("BarcodeDetector" in window) || !navigator.mediaDevices) { return; }
  box.hidden = false;
  var video = box.querySelector("[data-scan-video]");
  box.querySelector("[data-scan-start]").addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
      video.srcObject = stream;
      video.hidden = false;
      return video.play().then(function () {
        var look = function () {
          detector.detect(video).then(function (codes) {
            var found = codes.length && codes[0].rawValue;
            if (found && found.indexOf("/verify/") !== -1) {
              stream.getTracks().forEach(function (t) { t.stop(); });
              window.location.href = "/verify/" + encodeURIComponent(found.split("/verify/").pop());
            } else { window.requestAnimationFrame(look); }
          }, function () { window.requestAnimationFrame(look); });
        };
        look();
      });
    }, function () { box.hidden = true; });
  });
})();
