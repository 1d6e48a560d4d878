// IANS live pages: after its event stream reconnects (the server restarted, or dropped a
// stream that fell behind), the page loads itself again, so that it shows every change.
(function () {
  var opened = false;
  document.addEventListener("htmx:sseOpen", function () {
    if (opened) { window.location.reload(); }
    opened = true;
  });
})();
