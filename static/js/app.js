// Copy buttons: <button data-copy="element-id">. The page works without this.
// navigator.clipboard exists only on secure origins (https, localhost); on a
// plain-http LAN address the text is selected and copied the old way, and
// if even that is refused it stays selected for Ctrl+C.
document.addEventListener("click", function (ev) {
  var btn = ev.target.closest("[data-copy]");
  if (!btn) return;
  var el = document.getElementById(btn.getAttribute("data-copy"));
  if (!el) return;
  var label = btn.textContent;
  var done = function (text) {
    btn.textContent = text;
    setTimeout(function () { btn.textContent = label; }, 2000);
  };
  var select = function () {
    if (el.select) { el.focus(); el.select(); }
    else {
      var range = document.createRange();
      range.selectNodeContents(el);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    }
  };
  var fallback = function () {
    select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    done(ok ? "Copied" : "Selected: press Ctrl+C");
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(el.value || el.textContent).then(function () { done("Copied"); }, fallback);
  } else {
    fallback();
  }
});

// Download buttons: <button data-download="element-id" data-filename="x.pem">.
document.addEventListener("click", function (ev) {
  var btn = ev.target.closest("[data-download]");
  if (!btn) return;
  var el = document.getElementById(btn.getAttribute("data-download"));
  if (!el) return;
  var blob = new Blob([el.value || el.textContent], { type: "application/x-pem-file" });
  var a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = btn.getAttribute("data-filename") || "download.txt";
  document.body.appendChild(a);
  a.click();
  a.remove();
});

// <time datetime="…" data-relative>: "5 min ago" for recent instants, the
// exact time (as the server wrote it) in the tooltip. Without script the
// exact time shows.
(function () {
  var units = [["day", 86400], ["hour", 3600], ["min", 60]];
  var relative = function (seconds) {
    if (seconds < 45) return "just now";
    for (var i = 0; i < units.length; i++) {
      var n = Math.floor(seconds / units[i][1]);
      if (n >= 1) return n + " " + units[i][0] + (n > 1 && units[i][0] !== "min" ? "s" : "") + " ago";
    }
    return "just now";
  };
  var update = function () {
    var now = Date.now();
    document.querySelectorAll("time[data-relative]").forEach(function (t) {
      var at = Date.parse(t.getAttribute("datetime"));
      if (isNaN(at)) return;
      if (!t.title) t.title = t.textContent;
      var seconds = (now - at) / 1000;
      // Older than a week, or in the future: the exact time reads better.
      t.textContent = seconds >= 0 && seconds < 7 * 86400 ? relative(seconds) : t.title;
    });
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", update);
  else update();
  setInterval(update, 60000);
})();
