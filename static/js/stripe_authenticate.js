// 3-D Secure with Stripe.js on /checkout/payments/<id>/authenticate/: once the bank's
// step is done, the page's form tells the portal. A file of its own, not inline, so the
// Content-Security-Policy can forbid inline scripts.
(function () {
  var box = document.getElementById("stripe-authentication");
  if (!box || !window.Stripe || !box.dataset.publishableKey) return;
  Stripe(box.dataset.publishableKey).handleNextAction({ clientSecret: box.dataset.clientSecret })
    .then(function () { document.getElementById("authenticated-form").submit(); });
})();
