// Card entry with Stripe.js on /payment-method/: the card goes to Stripe in a SetupIntent,
// never to the portal. A file of its own, not inline, so the Content-Security-Policy can
// forbid inline scripts.
(function () {
  var form = document.getElementById("stripe-card-form");
  if (!form || !window.Stripe || !form.dataset.publishableKey) return;
  var stripe = Stripe(form.dataset.publishableKey, { locale: document.documentElement.lang || "auto" });
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    stripe.confirmCardSetup(form.dataset.clientSecret, { payment_method: { card: card } })
      .then(function (result) {
        if (result.error) {
          var box = document.getElementById("card-errors");
          box.textContent = result.error.code === "card_declined" && form.dataset.declined
            ? form.dataset.declined : result.error.message;
          box.hidden = false;
        } else { form.submit(); }
      });
  });
})();
