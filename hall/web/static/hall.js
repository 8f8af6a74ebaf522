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
 *   #lot-N-seq meta), so the server sends nothing it already shows.
 * - The bid form: a quick button fills the amount before its post; the lowest-bid hint and
 *   the bidder's own standing (leading, outbid, won) follow the live price and leader.
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
  var offset = 0; // the server's clock minus this browser's, in ms
  var opened = false;
  var leaving = false;
  var text = {};

  function t(key) {
    return Object.prototype.hasOwnProperty.call(text, key) ? text[key] : key;
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

  function badge(state) {
    var el = byId("hall-conn");
    if (!el) return;
    el.hidden = false;
    el.setAttribute("data-conn", state);
    el.textContent = t(state);
  }

  function withSince(url) {
    var parsed;
    try {
      parsed = new URL(url, location.href);
    } catch (e) {
      return url;
    }
    var lots = (parsed.searchParams.get("lots") || "").split(",").filter(Boolean);
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

  function lowestBid(form) {
    var price = attr("lot-" + form.getAttribute("data-lot") + "-price", "data-price");
    var increment = Number(form.getAttribute("data-increment"));
    return price ? Number(price) + increment : Number(form.getAttribute("data-start"));
  }

  function updateBidForm() {
    document.querySelectorAll(".bid-form").forEach(function (form) {
      var hint = form.querySelector(".lowest");
      if (hint) hint.textContent = yuan(lowestBid(form));
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
    var status = "status_none";
    if (attr("lot-" + lot + "-leader", "data-leader") === mine) {
      var over = attr("lot-" + lot + "-state", "data-state") === "closed";
      status = over && attr("lot-" + lot + "-state", "data-outcome") === "sold" ? "status_won" : "status_leading";
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
    updateBidForm();
    updateStatus();
    updateReserves();
    trimRecords();
  }

  // ------------------------------------------------------------ forms

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
    var message = document.createElement("p");
    message.className = "message";
    message.setAttribute("role", "alert");
    message.textContent = t("request_failed") + " (" + evt.detail.xhr.status + ")";
    target.replaceChildren(message);
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
