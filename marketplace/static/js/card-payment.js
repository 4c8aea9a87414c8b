// Card payment of an order's co-payment with Stripe Elements. The card details go from the
// browser straight to Stripe (never through our servers); the PaymentIntent was created by
// the platform with its own idempotency key, and its final state arrives by signed webhook,
// so this page only confirms the payment and then reloads the order.
(function () {
  "use strict";
  var form = document.getElementById("card-payment");
  if (!form) {
    return;
  }
  var errors = document.getElementById("card-errors");
  var button = form.querySelector("button[type=submit]");
  if (typeof window.Stripe !== "function") {
    errors.textContent = form.dataset.unavailable;
    button.disabled = true;
    return;
  }
  var stripe = window.Stripe(form.dataset.publishableKey, { locale: form.dataset.locale });
  var card = stripe.elements().create("card", { hidePostalCode: true });
  card.mount("#card-element");
  card.on("change", function (event) {
    errors.textContent = event.error ? event.error.message : "";
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    stripe
      .confirmCardPayment(form.dataset.clientSecret, { payment_method: { card: card } })
      .then(function (result) {
        if (result.error) {
          errors.textContent = result.error.message;
          button.disabled = false;
          return;
        }
        window.location.assign(form.dataset.returnUrl);
      });
  });
})();
