// 3-D Secure with Stripe.js on /checkout/payments/<id>/authenticate/: once the bank's
// step is done, the page's form tells the portal, which asks Stripe how it went. The
// PaymentIntent was confirmed by the server: Stripe.js's handleNextAction runs the bank's
// step; a Stripe.js without it (a stand-in such as localstripe's) does the same with
// confirmCardPayment on the intent's client secret. A file of its own, not inline, so the
// Content-Security-Policy can forbid inline scripts.
(function () {
  var box = document.getElementById("stripe-authentication");
  if (!box || !window.Stripe || !box.dataset.publishableKey) return;
  var stripe = Stripe(box.dataset.publishableKey, { locale: document.documentElement.lang || "auto" });
  var secret = box.dataset.clientSecret;
  var step = typeof stripe.handleNextAction === "function"
    ? stripe.handleNextAction({ clientSecret: secret })
    : stripe.confirmCardPayment(secret);
  step.then(function () { document.getElementById("authenticated-form").submit(); });
})();
