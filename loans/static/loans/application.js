/*
 * Loan application form (and the loan product page): live eligibility and schedule preview.
 *
 * Served from 'self' (the CSP allows no inline script). Reads the admin JSON views whose URLs the
 * template puts in data-url attributes, and builds the tables with DOM calls (no innerHTML), so
 * nothing typed or stored can become markup.
 */
(function () {
  "use strict";

  function $(selector) {
    return document.querySelector(selector);
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    if (className) {
      node.className = className;
    }
    return node;
  }

  function money(value) {
    var number = Number(value);
    if (!isFinite(number)) {
      return value;
    }
    return number.toLocaleString("en-NG", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function clearBelowHeading(box) {
    while (box.children.length > 1) {
      box.removeChild(box.lastChild);
    }
  }

  function hint(box, text, className) {
    clearBelowHeading(box);
    box.appendChild(el("p", text, className || "loans-hint"));
  }

  function value(selector) {
    var field = $(selector);
    return field ? field.value.trim() : "";
  }

  function query(params) {
    return Object.keys(params)
      .filter(function (key) { return params[key]; })
      .map(function (key) { return encodeURIComponent(key) + "=" + encodeURIComponent(params[key]); })
      .join("&");
  }

  function getJSON(url, onDone) {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (result) { onDone(result.ok, result.body); })
      .catch(function () { onDone(false, { error: "Could not reach the server." }); });
  }

  var timer = null;
  function later(fn) {
    window.clearTimeout(timer);
    timer = window.setTimeout(fn, 300);
  }

  function showPreview() {
    var box = $("#loans-preview");
    if (!box) {
      return;
    }
    var params = {
      product: value("[data-loans-product]") || box.dataset.product || "",
      principal: value("[data-loans-principal]"),
      term: value("[data-loans-term]"),
      first_due: value("[data-loans-first-due]")
    };
    if (!params.product || !params.principal || !params.term) {
      hint(box, "Choose a product, an amount and a term to preview the installments.");
      return;
    }
    getJSON(box.dataset.url + "?" + query(params), function (ok, body) {
      if (!ok) {
        hint(box, body.error || "No preview for these values.", "loans-fail");
        return;
      }
      clearBelowHeading(box);
      var table = el("table", null, "loans-table");
      var head = el("tr");
      ["No.", "Due", "Principal", "Interest", "Total", "Balance"].forEach(function (title) {
        head.appendChild(el("th", title));
      });
      table.appendChild(el("thead")).appendChild(head);
      var tbody = el("tbody");
      body.rows.forEach(function (row) {
        var tr = el("tr");
        tr.appendChild(el("td", row.number));
        tr.appendChild(el("td", row.due_date));
        ["principal", "interest", "total", "balance"].forEach(function (name) {
          tr.appendChild(el("td", money(row[name]), "num"));
        });
        tbody.appendChild(tr);
      });
      table.appendChild(tbody);
      var foot = el("tr", null, "loans-totals");
      foot.appendChild(el("th", "Total"));
      foot.appendChild(el("th", ""));
      foot.appendChild(el("th", money(body.totals.principal), "num"));
      foot.appendChild(el("th", money(body.totals.interest), "num"));
      foot.appendChild(el("th", money(body.totals.total), "num"));
      foot.appendChild(el("th", ""));
      table.appendChild(el("tfoot")).appendChild(foot);
      box.appendChild(table);
    });
  }

  function showEligibility() {
    var box = $("#loans-eligibility");
    if (!box) {
      return;
    }
    var params = {
      member: value("[data-loans-member]"),
      product: value("[data-loans-product]"),
      principal: value("[data-loans-principal]")
    };
    if (!params.member || !params.product) {
      hint(box, "Choose a member and a product to see savings, ceiling and active loans.");
      return;
    }
    getJSON(box.dataset.url + "?" + query(params), function (ok, body) {
      if (!ok) {
        hint(box, body.error || "Eligibility unavailable.", "loans-fail");
        return;
      }
      clearBelowHeading(box);
      var verdict = body.eligible ? "Eligible" : "Not eligible";
      box.appendChild(el("p", verdict, body.eligible ? "loans-pass loans-hint" : "loans-fail loans-hint"));
      var table = el("table", null, "loans-summary");
      [
        ["Member", body.member],
        ["Savings", money(body.savings)],
        ["Shares", money(body.shares)],
        ["Ceiling", body.ceiling === "no ceiling" ? body.ceiling : money(body.ceiling)],
        ["Active loans", body.active_loans],
        ["Membership", body.membership_months + " month(s)"]
      ].forEach(function (pair) {
        var tr = el("tr");
        tr.appendChild(el("th", pair[0]));
        tr.appendChild(el("td", pair[1]));
        table.appendChild(tr);
      });
      box.appendChild(table);
      if (body.reasons.length) {
        var list = el("ul");
        body.reasons.forEach(function (reason) { list.appendChild(el("li", reason, "loans-fail")); });
        box.appendChild(list);
      }
    });
  }

  function refresh() {
    later(function () {
      showEligibility();
      showPreview();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    ["[data-loans-product]", "[data-loans-principal]", "[data-loans-term]", "[data-loans-first-due]"].forEach(
      function (selector) {
        var field = $(selector);
        if (field) {
          field.addEventListener("input", refresh);
          field.addEventListener("change", refresh);
        }
      }
    );
    var member = $("[data-loans-member]");
    if (member) {
      member.addEventListener("change", refresh);
      // The autocomplete widget (select2) announces a choice through jQuery, not a DOM event.
      if (window.django && window.django.jQuery) {
        window.django.jQuery(member).on("change select2:select", refresh);
      }
    }
    refresh();
  });
})();
