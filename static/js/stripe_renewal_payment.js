// 3-D Secure for a renewal payment, on /renewals/payments/<id>/: Stripe.js runs the
// bank's step for the PaymentIntent the renewal run created off session, with the card on
// file, then the page's form tells the portal, which asks Stripe how it went (the
// browser's word is not trusted). A file of its own so the Content-Security-Policy can
// forbid inline scripts.
(function () {
  var box = document.getElementById("stripe-renewal-authentication");
  if (!box || !window.Stripe || !box.dataset.publishableKey) return;
  var stripe = Stripe(box.dataset.publishableKey);
  var data = box.dataset.paymentMethod ? { payment_method: box.dataset.paymentMethod } : {};
  // Confirming with the card on file works whether Stripe left the PaymentIntent asking
  // for the bank's step or, after an off-session "authentication_required", for a card.
  stripe.confirmCardPayment(box.dataset.clientSecret, data).then(function () {
    document.getElementById("renewal-authenticated-form").submit();
  });
})();
