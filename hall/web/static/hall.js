/* The live pages in the browser, beside htmx and its WebSocket extension (which swap the
 * server's fragments into the page by id). No framework, no build step.
 *
 * - Countdowns run on the server's clock: every element the server stamps with data-now
 *   (the #hall-clock meta each page socket sends first, each countdown it renders) resets the
 *   offset between the server's time and this browser's, so a wrong browser clock still shows
 *   the right time left.
 * - The connection badge (#hall-conn) follows the extension's htmx:wsConnecting, wsOpen,
 *   wsClose and wsError events. The extension reconnects by itself after 1006, 1011, 1012 and
 *   1013; a socket closed with another code is reconnected here, except 1008 (the server
 *   refused the page's lots for good).
 * - Resuming: htmx.createWebSocket is the extension's hook for making each socket, first and
 *   reconnected. A page that follows one lot adds since=<the last seq it has> (its
 *   #lot-N-seq meta), so the server sends nothing it already shows. The hall (its socket
 *   follows a topic) names again the lots announced to it since it loaded (#hall-new's rows)
 *   and asks only for lots newer than the newest it has (#hall-after), so no row comes twice.
 * - What a lot's state allows: elements with data-states (the console's commands, the bid form
 *   and the notes beside it) are shown only in the states they list, and those with
 *   data-needs-bid only once the lot has a price. The server renders them right as loaded;
 *   this keeps them right as the live state changes (fragments are the same for everyone).
 * - The bid form follows the live price: the lowest-bid hint, the amount box (its minimum, and
 *   its value when that fell below the lowest bid) and the quick buttons' amounts. Before the
 *   confirmation is asked for, a typed amount that is not whole, too low, too high or off the
 *   increment is stopped with its message (pages.amount_problem says the same on the server).
 *   A quick button fills the amount before its post. The bidder's own standing (leading,
 *   outbid, won, not won) follows the live price, leader and state.
 * - When a lot's state changes, the lot page drops what was said under the old one (a bid's
 *   outcome, a confirmation); once the lot is over the badge says so instead of "live".
 * - The console: the below-reserve marker follows the live price.
 * - The bid record keeps at most RECORD_ROWS rows.
 *
 * Without this file, or without JavaScript, the pages show their state as loaded and every
 * form still posts.
 */
(function () {
  "use strict";

  var RECORD_ROWS = 50;
  var RETRIED_BY_EXTENSION = [1006, 1011, 1012, 1013];
  var REFUSED = 1008;
  var PAGE_LOTS = 500; // the most lots a page socket follows (hall/web/live.py)
  var OVER = ["closed", "withdrawn"];
  var offset = 0; // the server's clock minus this browser's, in ms
  var opened = false;
  var leaving = false;
  var connection = ""; // the socket's last state, for the badge
  var seenStates = {}; // lot id -> the state this page last showed
  var text = {};

  function t(key) {
    return Object.prototype.hasOwnProperty.call(text, key) ? text[key] : key;
  }

  function format(key, fields) {
    return t(key).replace(/\{(\w+)\}/g, function (all, name) {
      return Object.prototype.hasOwnProperty.call(fields, name) ? fields[name] : all;
    });
  }

  function byId(id) {
    return document.getElementById(id);
  }

  function yuan(n) {
    return Number(n).toLocaleString("en-US");
  }

  // ------------------------------------------------------------ the server's clock

  function readClock() {
    var latest = null;
    document.querySelectorAll("[data-now]:not([data-clock-read])").forEach(function (el) {
      var now = Number(el.getAttribute("data-now"));
      el.setAttribute("data-clock-read", "");
      if (now > 0 && (latest === null || now > latest)) latest = now;
    });
    if (latest !== null) offset = latest - Date.now();
  }

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function span(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var days = Math.floor(s / 86400);
    var clock = pad(Math.floor((s % 86400) / 3600)) + ":" + pad(Math.floor((s % 3600) / 60)) + ":" + pad(s % 60);
    return (days ? days + t("days_short") + " " : "") + clock;
  }

  function tick() {
    var now = Date.now() + offset;
    document.querySelectorAll(".countdown").forEach(function (el) {
      if (!el.hasAttribute("data-label")) { // the server's text: the end in Beijing time
        el.setAttribute("data-label", el.textContent);
        el.title = el.textContent;
      }
      var state = el.getAttribute("data-state");
      var ends = Number(el.getAttribute("data-ends-at"));
      var starts = Number(el.getAttribute("data-starts-at"));
      var shown = el.getAttribute("data-label");
      if (state === "live" && ends > 0) {
        shown = ends > now ? t("remaining") + " " + span(ends - now) : t("closing");
      } else if (state === "publicity" && starts > 0) {
        shown = starts > now ? t("starts_in") + " " + span(starts - now) : t("opening");
      }
      if (el.textContent !== shown) el.textContent = shown;
    });
  }

  // ------------------------------------------------------------ the socket

  function lotOver() { // a lot page whose lot is over: nothing live is left to show
    var page = document.querySelector(".lot-page[data-lot]");
    return !!page && OVER.indexOf(stateOf(page.getAttribute("data-lot"))) >= 0;
  }

  function badge(state) {
    var el = byId("hall-conn");
    if (state) connection = state;
    if (!el || !connection) return;
    var shown = lotOver() ? "conn_over" : connection;
    el.hidden = false;
    el.setAttribute("data-conn", shown === "conn_over" ? "over" : shown);
    el.textContent = t(shown);
  }

  function withSince(url) {
    var parsed;
    try {
      parsed = new URL(url, location.href);
    } catch (e) {
      return url;
    }
    var lots = (parsed.searchParams.get("lots") || "").split(",").filter(Boolean);
    if (parsed.searchParams.get("topic")) {
      var after = byId("hall-after");
      if (after) parsed.searchParams.set("after", after.getAttribute("data-after"));
      var added = document.querySelectorAll("#hall-new tr[data-lot]");
      for (var i = 0; i < added.length; i++) lots.push(added[i].getAttribute("data-lot"));
      parsed.searchParams.set("lots", lots.slice(0, PAGE_LOTS).join(","));
      return parsed.toString();
    }
    if (lots.length !== 1) return url; // the server resumes a single lot only
    var meta = byId("lot-" + lots[0] + "-seq");
    var seen = meta ? meta.getAttribute("data-seq") : null;
    if (seen && /^\d+$/.test(seen)) parsed.searchParams.set("since", seen);
    return parsed.toString();
  }

  if (window.htmx) {
    window.htmx.createWebSocket = function (url) {
      var socket = new WebSocket(withSince(url), []);
      socket.binaryType = window.htmx.config.wsBinaryType || "blob";
      return socket;
    };
  }

  document.addEventListener("htmx:wsConnecting", function () {
    badge(opened ? "offline" : "connecting");
  });
  document.addEventListener("htmx:wsOpen", function () {
    opened = true;
    badge("online");
  });
  document.addEventListener("htmx:wsError", function () {
    badge("offline");
  });
  document.addEventListener("htmx:wsClose", function (evt) {
    badge("offline");
    var code = evt.detail && evt.detail.event ? evt.detail.event.code : 0;
    var wrapper = evt.detail ? evt.detail.socketWrapper : null;
    if (leaving || code === REFUSED || RETRIED_BY_EXTENSION.indexOf(code) >= 0 || !wrapper) return;
    var source = evt.target;
    setTimeout(function () {
      if (document.body.contains(source)) wrapper.reconnect();
    }, 1000 + Math.random() * 2000);
  });
  window.addEventListener("pagehide", function () {
    leaving = true;
  });
  document.addEventListener("htmx:wsAfterMessage", refresh);

  // ------------------------------------------------------------ what follows the live state

  function attr(id, name) {
    var el = byId(id);
    return el ? el.getAttribute(name) || "" : "";
  }

  function stateOf(lot) {
    return attr("lot-" + lot + "-state", "data-state");
  }

  function priceOf(lot) {
    return attr("lot-" + lot + "-price", "data-price");
  }

  function lowestBid(form) {
    var price = priceOf(form.getAttribute("data-lot"));
    var increment = Number(form.getAttribute("data-increment"));
    return price ? Number(price) + increment : Number(form.getAttribute("data-start"));
  }

  // Show what the lot's state (and price) allows: the console's commands, the bid form and its notes.
  function updateAllowed() {
    document.querySelectorAll(".controls[data-lot], .bid-panel[data-lot]").forEach(function (scope) {
      var lot = scope.getAttribute("data-lot");
      var state = stateOf(lot);
      if (!state) return;
      var priced = priceOf(lot) !== "";
      scope.querySelectorAll("[data-states]").forEach(function (el) {
        var allowed = el.getAttribute("data-states").split(" ").indexOf(state) >= 0;
        var hide = !allowed || (el.hasAttribute("data-needs-bid") && !priced);
        if (el.hidden !== hide) el.hidden = hide;
      });
    });
  }

  function updateBidForm() {
    document.querySelectorAll(".bid-form").forEach(function (form) {
      var lowest = lowestBid(form);
      var increment = Number(form.getAttribute("data-increment"));
      var hint = form.querySelector(".lowest");
      if (hint) hint.textContent = yuan(lowest);
      var amount = form.querySelector("input[name=amount]");
      if (amount && amount.getAttribute("min") !== String(lowest)) {
        amount.setAttribute("min", String(lowest));
        var typed = wholeYuan(amount.value);
        if (typed === null || typed < lowest) amount.value = String(lowest); // stale: the price moved past it
      }
      form.querySelectorAll("button[name=steps]").forEach(function (button) {
        var shown = "¥" + yuan(lowest + (Number(button.value) - 1) * increment);
        if (button.textContent !== shown) button.textContent = shown;
      });
    });
  }

  // Drop what a lot page said under the lot's previous state: a bid's outcome, a confirmation.
  function clearStale() {
    document.querySelectorAll(".bid-panel[data-lot]").forEach(function (panel) {
      var lot = panel.getAttribute("data-lot");
      var state = stateOf(lot);
      var before = seenStates[lot];
      seenStates[lot] = state;
      if (before === undefined || before === state) return;
      var result = byId("bid-result");
      if (result) result.replaceChildren();
      panel.querySelectorAll(".confirm").forEach(function (el) {
        el.remove();
      });
    });
  }

  function updateStatus() {
    var el = byId("my-status");
    if (!el) return;
    var lot = el.getAttribute("data-lot");
    var mine = el.getAttribute("data-number");
    var record = byId("lot-" + lot + "-record");
    var rows = record ? record.querySelectorAll("li[data-bidder]") : [];
    var bid = el.getAttribute("data-status") !== "status_none";
    for (var i = 0; i < rows.length && !bid; i++) bid = rows[i].getAttribute("data-bidder") === mine;
    // The rule of bidder_status (hall/web/pages.py): no bid yet; leading or outbid while the lot
    // runs; once it is over, won (leading a sold lot) or, for whoever else bid, not won.
    var leading = attr("lot-" + lot + "-leader", "data-leader") === mine;
    var status = "status_none";
    if (OVER.indexOf(stateOf(lot)) >= 0) {
      if (leading || bid) {
        status = leading && attr("lot-" + lot + "-state", "data-outcome") === "sold" ? "status_won" : "status_lost";
      }
    } else if (leading) {
      status = "status_leading";
    } else if (bid) {
      status = "status_outbid";
    }
    if (el.getAttribute("data-status") !== status) {
      el.setAttribute("data-status", status);
      el.textContent = t(status);
    }
  }

  function updateReserves() {
    document.querySelectorAll(".tile[data-reserve]").forEach(function (tile) {
      var reserve = tile.getAttribute("data-reserve");
      var marker = tile.querySelector(".below-reserve");
      if (!reserve || !marker) return;
      var price = attr("lot-" + tile.getAttribute("data-lot") + "-price", "data-price");
      marker.hidden = price !== "" && Number(price) >= Number(reserve);
    });
  }

  function trimRecords() {
    document.querySelectorAll("ol.record").forEach(function (list) {
      while (list.children.length > RECORD_ROWS) list.removeChild(list.lastElementChild);
    });
  }

  function refresh() {
    readClock();
    tick();
    clearStale();
    updateAllowed();
    updateBidForm();
    updateStatus();
    updateReserves();
    trimRecords();
    badge("");
  }

  // ------------------------------------------------------------ forms

  function wholeYuan(value) { // as pages._whole reads it: "12,000" or "¥12000"; null if not whole
    var digits = String(value).trim().replace(/^[¥￥]/, "").replace(/[,，\s]/g, "");
    return /^[0-9]{1,15}$/.test(digits) ? Number(digits) : null;
  }

  // Why the typed amount cannot be sent to the confirmation: a message, or "" (pages.amount_problem).
  function amountProblem(form) {
    var amount = wholeYuan(form.querySelector("input[name=amount]").value);
    if (amount === null || amount <= 0) return ["bad_request", t("bid_not_whole")];
    var lowest = lowestBid(form);
    var increment = Number(form.getAttribute("data-increment"));
    if (amount < lowest) return ["too_low", format("bid_below_lowest", {lowest: yuan(lowest)})];
    var price = priceOf(form.getAttribute("data-lot"));
    var limit = Number(form.getAttribute("data-absurd")) * (price ? Number(price) : Number(form.getAttribute("data-start")));
    if (amount > limit) return ["too_high", format("bid_too_high", {limit: yuan(limit)})];
    var off = (amount - lowest) % increment;
    if (off) {
      var below = amount - off;
      return ["bad_increment", format("bid_wrong_increment",
        {increment: yuan(increment), below: yuan(below), above: yuan(below + increment)})];
    }
    return null;
  }

  function say(target, code, message) {
    var p = document.createElement("p");
    p.className = "message";
    p.setAttribute("role", "alert");
    p.setAttribute("data-code", code);
    p.textContent = message;
    target.replaceChildren(p);
  }

  // Before htmx (or the browser) posts a typed amount: stop it here with the reason. Captured on
  // the document, so it runs before htmx's own listener on the form.
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("bid-form")) return;
    var submitter = evt.submitter;
    if (submitter && submitter.name === "steps") return; // a quick button: the server counts the steps
    var problem = amountProblem(form);
    if (!problem) return;
    evt.preventDefault();
    evt.stopPropagation();
    var result = byId("bid-result");
    if (result) say(result, problem[0], problem[1]);
  }, true);

  document.addEventListener("click", function (evt) {
    var target = evt.target instanceof Element ? evt.target : null;
    var quick = target && target.closest(".bid-form button[name=steps]");
    if (quick) { // the post carries steps; the amount field shows what that comes to now
      var form = quick.closest(".bid-form");
      var amount = form.querySelector("input[name=amount]");
      if (amount) amount.value = lowestBid(form) + (Number(quick.value) - 1) * Number(form.getAttribute("data-increment"));
      return;
    }
    var dismiss = target && target.closest("[data-dismiss]");
    if (dismiss && window.htmx) { // a confirmation panel in the page: just close it
      var panel = dismiss.closest(dismiss.getAttribute("data-dismiss"));
      if (panel && panel.parentElement && panel.parentElement.id) {
        evt.preventDefault();
        panel.remove();
      }
    }
  });

  document.addEventListener("change", function (evt) {
    var target = evt.target;
    if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit") && target.form) {
      target.form.submit();
    }
  });

  // A post whose session ended is sent to the login page: go there rather than swap it in.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var xhr = evt.detail && evt.detail.xhr;
    if (xhr && xhr.responseURL && new URL(xhr.responseURL).pathname === "/login") {
      evt.detail.shouldSwap = false;
      location.assign(xhr.responseURL);
    }
  });

  document.addEventListener("htmx:responseError", function (evt) {
    var target = evt.detail && evt.detail.target;
    if (!target) return;
    say(target, "", t("request_failed") + " (" + evt.detail.xhr.status + ")");
  });

  function start() {
    var el = byId("hall-text");
    if (el) {
      try {
        text = JSON.parse(el.textContent);
      } catch (e) {
        text = {};
      }
    }
    refresh();
    setInterval(tick, 1000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
