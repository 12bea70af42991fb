// Copy buttons: <button data-copy="element-id">. The page works without this.
document.addEventListener("click", function (ev) {
  var btn = ev.target.closest("[data-copy]");
  if (!btn) return;
  var el = document.getElementById(btn.getAttribute("data-copy"));
  if (!el || !navigator.clipboard) return;
  navigator.clipboard.writeText(el.value || el.textContent).then(function () {
    var label = btn.textContent;
    btn.textContent = "Copied";
    setTimeout(function () { btn.textContent = label; }, 1500);
  });
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
