// Place order with a new card in Stripe mode: Stripe.js's card form collects the card and
// confirms it on a SetupIntent (3-D Secure included) straight with Stripe; the portal gets
// only the SetupIntent's id. With the card on file ("Use another card" closed) the form is
// posted as it is. A file of its own, not inline, so the Content-Security-Policy can forbid
// inline scripts.
(function () {
  var form = document.getElementById("stripe-review-form");
  var mount = document.getElementById("card-element");
  if (!form || !mount || !window.Stripe || !form.dataset.publishableKey) return;
  var stripe = Stripe(form.dataset.publishableKey, { locale: document.documentElement.lang || "auto" });
  var card = stripe.elements().create("card");
  card.mount(mount);
  var other = document.getElementById("other-card");
  var errors = document.getElementById("card-errors");
  var setupIntent = form.elements.setup_intent;
  var button = form.querySelector("button[type=submit]");
  // A page restored from the back/forward cache must not post an earlier SetupIntent.
  window.addEventListener("pageshow", function () { setupIntent.value = ""; });
  var show = function (message) {
    errors.textContent = message || form.dataset.unavailable;
    errors.hidden = false;
    setTimeout(function () { if (button) button.disabled = false; }, 0);
  };
  form.addEventListener("submit", function (event) {
    setupIntent.value = "";
    if (other && !other.open) return;  // the card on file pays
    event.preventDefault();
    errors.hidden = true;
    fetch(form.dataset.setupUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": form.elements.csrfmiddlewaretoken.value },
    })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (!answer.client_secret) return { error: { message: answer.error } };
        return stripe.confirmCardSetup(answer.client_secret, { payment_method: { card: card } });
      })
      .then(function (result) {
        if (result.error) {
          show(result.error.code === "card_declined" ? form.dataset.declined : result.error.message);
          return;
        }
        setupIntent.value = result.setupIntent.id;
        form.submit();
      })
      .catch(function () { show(form.dataset.unavailable); });
  });
})();
