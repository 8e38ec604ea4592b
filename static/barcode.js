// The receive form's scanner field. A barcode scanner types the code, then Enter: instead of
// submitting the half-filled form, ask the server what the barcode says and fill in the product,
// lot and expiry, then move to the quantity. Without this script the form still works: the
// barcode alone is read on the server when the form is submitted.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var field = document.getElementById("barcode");
  if (!field || !field.form) {
    return;
  }
  var form = field.form;
  var status = document.getElementById("barcode-status");

  function say(message, failed) {
    status.textContent = message;
    status.classList.toggle("field-error", failed);
    if (failed) {
      field.setAttribute("aria-invalid", "true");
    } else {
      field.removeAttribute("aria-invalid");
    }
  }

  function fill(label) {
    form.elements.product_id.value = String(label.product_id);
    form.elements.lot_number.value = label.lot_number;
    if (label.expiry) {
      form.elements.expiry_date.value = label.expiry;
    }
    var known = label.existing_lot
      ? " Lot already on the shelf (" + label.existing_lot.quantity_on_hand + " " + label.unit +
        ", " + label.existing_lot.status + "): the quantity is added to it."
      : "";
    var expiry = label.expiry ? "expiry " + label.expiry : "no expiry in the barcode: type it";
    say(label.product_name + ", lot " + label.lot_number + ", " + expiry + "." + known, false);
    form.elements.quantity.focus();
  }

  field.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") {
      return;
    }
    event.preventDefault();
    var code = field.value.trim();
    if (!code) {
      return;
    }
    say("Reading the barcode…", false);
    fetch(field.dataset.lookup + "?code=" + encodeURIComponent(code), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.json().then(function (body) {
          return { ok: response.ok, body: body };
        });
      })
      .then(function (answer) {
        if (answer.ok) {
          fill(answer.body);
          return;
        }
        var errors = (answer.body.errors && answer.body.errors.barcode) || [answer.body.message];
        say(errors.join(" "), true);
      })
      .catch(function () {
        say("The barcode could not be read just now: submit the form to receive by barcode.", true);
      });
  });
});
