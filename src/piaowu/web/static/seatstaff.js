// Seat maps for staff (back office): the layout editor and the seat picker of the session seating page and
// the box office. One small SVG renderer for both; the buyer's picker is seatmap.js (pinch-zoom, sections
// first for 80,000 seats, availability deltas) — staff maps are edited and sold one section at a time.
// This file never decides anything: the server checks every edit, block and sale again.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var ZONE_CLASSES = 8; // .zone-0 … .zone-7 in seatstaff.css

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function label(seat) { return seat.section + " " + seat.row + "-" + seat.number; }

  // A seat's radius: 0.4 of the typical distance to its nearest neighbour (map units are the venue's own).
  function seatRadius(seats) {
    if (seats.length < 2) return 20;
    var step = Math.max(1, Math.floor(seats.length / 150));
    var dists = [];
    for (var i = 0; i < seats.length; i += step) {
      var best = Infinity;
      for (var j = 0; j < seats.length; j++) {
        if (j === i) continue;
        var d = Math.hypot(seats[i].x - seats[j].x, seats[i].y - seats[j].y);
        if (d > 0 && d < best) best = d;
      }
      if (best < Infinity) dists.push(best);
    }
    dists.sort(function (a, b) { return a - b; });
    return dists.length ? dists[Math.floor(dists.length / 2)] * 0.4 : 20;
  }

  // ---- the map: seats drawn as circles, sections named, a selection kept ---------------------------------
  function SeatMap(host, seats, options) {
    this.host = host;
    this.seats = seats;
    this.options = options || {};
    this.selected = new Set();
    this.zoneIndex = {};
    this.onchange = function () {};
    var self = this;
    (this.options.zones || []).forEach(function (z, i) { self.zoneIndex[z] = i % ZONE_CLASSES; });
    this.svg = el("svg", { class: "seatmap-svg", role: "group", "aria-label": host.dataset.label || "" });
    host.appendChild(this.svg);
    this.radius = seatRadius(seats.concat(this.options.preview || []));
    this.draw();
  }

  SeatMap.prototype.zoneClass = function (zone) {
    if (!(zone in this.zoneIndex)) this.zoneIndex[zone] = Object.keys(this.zoneIndex).length % ZONE_CLASSES;
    return "zone-" + this.zoneIndex[zone];
  };

  SeatMap.prototype.fit = function () {
    var all = this.seats.concat(this.options.preview || []);
    var r = this.radius;
    if (!all.length) { this.svg.setAttribute("viewBox", "0 0 1000 400"); return; }
    var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    all.forEach(function (s) {
      minX = Math.min(minX, s.x); maxX = Math.max(maxX, s.x);
      minY = Math.min(minY, s.y); maxY = Math.max(maxY, s.y);
    });
    var pad = r * 4;
    this.box = { x: minX - pad, y: minY - pad * 2.5, w: maxX - minX + pad * 2, h: maxY - minY + pad * 3.5 };
    this.svg.setAttribute("viewBox", [this.box.x, this.box.y, this.box.w, this.box.h].join(" "));
  };

  SeatMap.prototype.draw = function () {
    var self = this;
    this.fit();
    while (this.svg.firstChild) this.svg.removeChild(this.svg.firstChild);
    var r = this.radius;
    if (this.box) {
      // The stage is at the top of every plan (y grows away from it).
      var stage = el("g", { class: "stage" }, this.svg);
      el("rect", { x: this.box.x + this.box.w * 0.3, y: this.box.y + r, width: this.box.w * 0.4, height: r * 2.2, rx: r / 2 }, stage);
      var text = el("text", { x: this.box.x + this.box.w / 2, y: this.box.y + r * 2.5, "font-size": r * 1.4 }, stage);
      text.textContent = this.host.dataset.stage || "";
    }
    // Section names above each section's seats.
    var tops = {};
    this.seats.forEach(function (s) {
      var t = tops[s.section] || (tops[s.section] = { minX: s.x, maxX: s.x, minY: s.y });
      t.minX = Math.min(t.minX, s.x); t.maxX = Math.max(t.maxX, s.x); t.minY = Math.min(t.minY, s.y);
    });
    Object.keys(tops).forEach(function (id) {
      var t = tops[id];
      var name = el("text", { class: "section-name", x: (t.minX + t.maxX) / 2, y: t.minY - r * 1.6, "font-size": r * 1.5 }, self.svg);
      name.textContent = id;
    });
    this.layer = el("g", { class: "seats" }, this.svg);
    this.nodes = [];
    this.seats.forEach(function (s, i) {
      var node = el("circle", { cx: s.x, cy: s.y, r: r }, self.layer);
      node.dataset.i = i;
      var title = el("title", {}, node);
      title.textContent = label(s);
      self.nodes.push(node);
      self.paint(i);
    });
    (this.options.preview || []).forEach(function (s) {
      el("circle", { cx: s.x, cy: s.y, r: r, class: "seat preview" }, self.svg);
    });
    this.band = el("rect", { class: "band", visibility: "hidden" }, this.svg);
  };

  SeatMap.prototype.paint = function (i) {
    var s = this.seats[i];
    var node = this.nodes[i];
    var cls = ["seat", this.zoneClass(s.zone)];
    if (s.blocked) cls.push("blocked");
    if (s.withheld && s.withheld.length) cls.push("withheld");
    if (s.current) cls.push("current");
    if (s.state) cls.push("state-" + s.state);
    (s.attributes || []).forEach(function (a) { cls.push("attr-" + a); });
    if (this.selected.has(i)) cls.push("selected");
    if (node && node.classList.contains("cursor")) cls.push("cursor");
    node.setAttribute("class", cls.join(" "));
    node.setAttribute("cx", s.x);
    node.setAttribute("cy", s.y);
  };

  SeatMap.prototype.toMap = function (evt) {
    var pt = this.svg.createSVGPoint();
    pt.x = evt.clientX; pt.y = evt.clientY;
    return pt.matrixTransform(this.svg.getScreenCTM().inverse());
  };

  SeatMap.prototype.select = function (indices, add) {
    var self = this;
    var before = Array.from(this.selected);
    if (!add || this.options.single) this.selected.clear();
    indices.forEach(function (i) {
      if (self.options.selectable && !self.options.selectable(self.seats[i])) return;
      if (add && self.selected.has(i) && indices.length === 1) self.selected.delete(i);
      else if (!self.options.single || !self.selected.size) self.selected.add(i);
    });
    before.concat(indices).forEach(function (i) { self.paint(i); });
    this.onchange();
  };

  // Click a seat, shift-click to add or remove one, drag on the background for a rectangle of seats;
  // with ``movable``, dragging a selected seat moves the whole selection.
  SeatMap.prototype.interact = function (movable) {
    var self = this, drag = null;
    this.svg.addEventListener("pointerdown", function (evt) {
      if (evt.button !== 0) return;
      var p = self.toMap(evt);
      var target = evt.target.closest ? evt.target.closest("circle.seat") : null;
      var i = target && target.dataset.i !== undefined ? parseInt(target.dataset.i, 10) : -1;
      if (i >= 0) {
        if (evt.shiftKey) { self.select([i], true); return; }
        if (!self.selected.has(i)) self.select([i], false);
        if (movable) drag = { kind: "move", x: p.x, y: p.y, x0: p.x, y0: p.y, moved: false };
      } else {
        drag = { kind: "band", x: p.x, y: p.y, add: evt.shiftKey };
      }
      self.svg.setPointerCapture(evt.pointerId);
      evt.preventDefault();
    });
    this.svg.addEventListener("pointermove", function (evt) {
      if (!drag) return;
      var p = self.toMap(evt);
      if (drag.kind === "move") {
        var dx = p.x - drag.x, dy = p.y - drag.y;
        if (!drag.moved && Math.hypot(dx, dy) < self.radius / 3) return;
        drag.moved = true;
        drag.x = p.x; drag.y = p.y;
        self.moveBy(dx, dy);
      } else {
        var b = self.band;
        b.setAttribute("x", Math.min(p.x, drag.x)); b.setAttribute("y", Math.min(p.y, drag.y));
        b.setAttribute("width", Math.abs(p.x - drag.x)); b.setAttribute("height", Math.abs(p.y - drag.y));
        b.setAttribute("visibility", "visible");
        drag.to = p;
      }
    });
    function end() {
      if (drag && drag.kind === "band") {
        self.band.setAttribute("visibility", "hidden");
        var to = drag.to || drag;
        var x0 = Math.min(to.x, drag.x), x1 = Math.max(to.x, drag.x);
        var y0 = Math.min(to.y, drag.y), y1 = Math.max(to.y, drag.y);
        var inside = [];
        self.seats.forEach(function (s, i) { if (s.x >= x0 && s.x <= x1 && s.y >= y0 && s.y <= y1) inside.push(i); });
        if (inside.length || !drag.add) self.select(inside, drag.add);
      } else if (drag && drag.moved && self.onmoved) {
        self.onmoved(Math.round((drag.x - drag.x0) * 100) / 100, Math.round((drag.y - drag.y0) * 100) / 100);
      }
      drag = null;
    }
    this.svg.addEventListener("pointerup", end);
    this.svg.addEventListener("pointercancel", end);
  };

  SeatMap.prototype.moveBy = function (dx, dy) {
    var self = this;
    this.selected.forEach(function (i) {
      var s = self.seats[i];
      s.x = Math.round((s.x + dx) * 100) / 100;
      s.y = Math.round((s.y + dy) * 100) / 100;
      s.dirty = true;
      self.paint(i);
    });
  };

  function readJSON(node, attr) {
    try { return JSON.parse(node.getAttribute(attr) || "null"); } catch (e) { return null; }
  }

  // ---- the layout editor ----------------------------------------------------------------------------
  // Every change is recorded as an operation of seating.edits (move, relabel, set_zone, set_attributes, block,
  // unblock, delete), naming seats by their labels at that moment; "Save" posts the list, which the server
  // applies in order and checks whole (the import rules) — all or nothing.
  function setupEditor(root) {
    var doc = readJSON(root, "data-doc") || { seats: [] };
    var preview = readJSON(root, "data-preview") || [];
    var seats = doc.seats.map(function (s) {
      return {
        section: s.section, row: s.row, number: s.number, x: s.x, y: s.y,
        zone: s.zone, attributes: (s.attributes || []).slice(), blocked: s.blocked || "",
      };
    });
    var host = root.querySelector("[data-map]");
    var map = new SeatMap(host, seats, { zones: readJSON(root, "data-zones") || [], preview: preview });
    var ops = [];
    var panel = root.querySelector("[data-panel]");
    var form = root.querySelector("[data-save-form]");
    var count = root.querySelector("[data-count]");
    var saveButton = form.querySelector("button[type=submit]");
    map.interact(true);

    function key(s) { return [s.section, s.row, s.number]; }
    function selection() { return Array.from(map.selected).sort(function (a, b) { return a - b; }); }
    function keys(sel) { return sel.map(function (i) { return key(seats[i]); }); }

    function record(op) {
      var last = ops[ops.length - 1];
      // Moves of the same seats one after the other are one move (arrow keys, a drag).
      if (op.op === "move" && last && last.op === "move" && JSON.stringify(last.seats) === JSON.stringify(op.seats)) {
        last.dx = Math.round((last.dx + op.dx) * 100) / 100;
        last.dy = Math.round((last.dy + op.dy) * 100) / 100;
      } else {
        ops.push(op);
      }
      saveButton.disabled = false;
      root.querySelector("[data-unsaved]").hidden = false;
    }

    function refresh() {
      var sel = selection();
      // The page sends the sentence for one seat beside the other form (data-template-one: ngettext).
      var template = sel.length === 1 && count.dataset.templateOne ? count.dataset.templateOne : count.dataset.template;
      count.textContent = template.replace("{n}", sel.length);
      panel.querySelectorAll("input, select, button").forEach(function (c) { c.disabled = !sel.length; });
      var one = sel.length === 1 ? seats[sel[0]] : null;
      panel.querySelector("[name=row]").value = one ? one.row : "";
      panel.querySelector("[name=number]").value = one ? one.number : "";
      panel.querySelector("[name=zone]").value = one ? one.zone : "";
      panel.querySelector("[name=blocked]").value = one ? one.blocked : "";
    }
    map.onchange = refresh;
    map.onmoved = function (dx, dy) { record({ op: "move", seats: keys(selection()), dx: dx, dy: dy }); };
    refresh();

    function repaint(sel) { sel.forEach(function (i) { map.paint(i); }); }

    function relabel(sel, row, number) {
      var start = parseInt(number, 10);
      var wanted = sel.map(function (i, k) {
        var n = !number ? seats[i].number : sel.length === 1 || isNaN(start) ? number : String(start + k);
        return { i: i, row: row || seats[i].row, number: n };
      });
      // Several seats: through a label nobody uses first, so that renumbering 1–5 as 2–6 never meets itself.
      if (sel.length > 1) {
        wanted.forEach(function (w, k) {
          var s = seats[w.i], tmp = "~" + Date.now().toString(36) + "~" + k;
          record({ op: "relabel", seat: key(s), number: tmp });
          s.number = tmp;
        });
      }
      wanted.forEach(function (w) {
        var s = seats[w.i];
        if (s.row === w.row && s.number === w.number) return;
        record({ op: "relabel", seat: key(s), row: w.row, number: w.number });
        s.row = w.row; s.number = w.number;
      });
      map.draw();
    }

    panel.addEventListener("click", function (evt) {
      var button = evt.target.closest("button[data-action]");
      if (!button) return;
      evt.preventDefault();
      var sel = selection();
      if (!sel.length) return;
      var action = button.dataset.action;
      var value = function (n) { return panel.querySelector("[name=" + n + "]").value.trim(); };
      if (action === "relabel" && (value("row") || value("number"))) {
        relabel(sel, value("row"), value("number"));
      } else if (action === "zone" && value("zone")) {
        record({ op: "set_zone", seats: keys(sel), zone: value("zone") });
        sel.forEach(function (i) { seats[i].zone = value("zone"); });
      } else if (action === "attr-set" || action === "attr-clear") {
        var attr = value("attribute"), groups = {};
        sel.forEach(function (i) {
          var now = seats[i].attributes.filter(function (a) { return a !== attr; });
          if (action === "attr-set") now.push(attr);
          now.sort();
          seats[i].attributes = now;
          (groups[now.join(";")] = groups[now.join(";")] || []).push(i);
        });
        Object.keys(groups).forEach(function (g) {
          record({ op: "set_attributes", seats: keys(groups[g]), attributes: g ? g.split(";") : [] });
        });
      } else if (action === "block" && value("blocked")) {
        record({ op: "block", seats: keys(sel), reason: value("blocked") });
        sel.forEach(function (i) { seats[i].blocked = value("blocked"); });
      } else if (action === "unblock") {
        record({ op: "unblock", seats: keys(sel) });
        sel.forEach(function (i) { seats[i].blocked = ""; });
      } else if (action === "delete") {
        removeSelected();
        return;
      }
      repaint(sel);
      refresh();
    });

    function removeSelected() {
      var sel = new Set(map.selected);
      if (!sel.size) return;
      record({ op: "delete", seats: keys(Array.from(sel)) });
      var kept = seats.filter(function (s, i) { return !sel.has(i); });
      seats.length = 0;
      Array.prototype.push.apply(seats, kept);
      map.selected.clear();
      map.draw();
      refresh();
    }

    // Arrow keys move the selection (Shift: ten times further); Delete removes it; Escape clears it.
    host.addEventListener("keydown", function (evt) {
      var step = Math.round(map.radius / 2 * (evt.shiftKey ? 10 : 1));
      var moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (moves[evt.key] && map.selected.size) {
        map.moveBy(moves[evt.key][0], moves[evt.key][1]);
        record({ op: "move", seats: keys(selection()), dx: moves[evt.key][0], dy: moves[evt.key][1] });
        evt.preventDefault();
      } else if ((evt.key === "Delete" || evt.key === "Backspace") && map.selected.size) {
        removeSelected();
        evt.preventDefault();
      } else if (evt.key === "Escape") {
        map.select([], false);
      } else if (evt.key === "a" && (evt.ctrlKey || evt.metaKey)) {
        map.select(seats.map(function (s, i) { return i; }), false);
        evt.preventDefault();
      }
    });

    var submitted = false;
    form.addEventListener("submit", function () {
      form.querySelector("[name=ops]").value = JSON.stringify(ops);
      submitted = true;
    });
    window.addEventListener("beforeunload", function (evt) {
      if (ops.length && !submitted) { evt.preventDefault(); evt.returnValue = ""; }
    });
  }

  // ---- picking seats of a session: blocking at the seating page, selling at the box office --------------
  // data-seats: [[id, section, row, number, x, y, zone, attributes, state, withheld]] with state
  // free|held|sold|blocked and withheld the sales channels the seat is not on sale through; each picked seat is
  // written into the form as a hidden input named data-field (value: the seat id). data-channel: the channel
  // this page sells through (the box office): seats withheld from it cannot be picked.
  function setupPicker(root) {
    var rows = readJSON(root, "data-seats") || [];
    var wanted = (root.dataset.pickable || "free").split(" ");
    var allowed = readJSON(root, "data-allowed-zones");
    var seats = rows.map(function (r) {
      return { id: r[0], section: r[1], row: r[2], number: r[3], x: r[4], y: r[5], zone: r[6], attributes: r[7], state: r[8], blocked: r[8] === "blocked", withheld: r[9] || [] };
    });
    var channel = root.dataset.channel;
    var CHANNELS = readJSON(root, "data-channel-names") || {};
    var host = root.querySelector("[data-map]");
    var map = new SeatMap(host, seats, {
      zones: readJSON(root, "data-zones") || [],
      selectable: function (s) {
        return wanted.indexOf(s.state) >= 0 && (!allowed || allowed.indexOf(s.zone) >= 0) && !(channel && s.withheld.indexOf(channel) >= 0);
      },
      single: root.dataset.single !== undefined,
    });
    var current = new Set(readJSON(root, "data-current") || []);
    seats.forEach(function (s, i) { if (current.has(s.id)) { s.current = true; map.paint(i); } });
    map.interact(false);
    var form = document.getElementById(root.dataset.form);
    var out = form.querySelector("[data-picked]");
    var list = root.querySelector("[data-picked-list]");
    var preset = new Set(readJSON(root, "data-selected") || []);
    var attrNames = readJSON(root, "data-attr-names") || {};
    // Box office: each picked seat is sold as one of the ticket types priced in its zone (a select per seat).
    var prices = readJSON(root, "data-prices");
    var chosen = readJSON(root, "data-chosen") || {};
    function typeSelect(s) {
      var select = document.createElement("select");
      select.name = "tt." + s.id;
      select.dataset.seatType = "";
      select.setAttribute("aria-label", label(s));
      (prices[s.zone] || []).forEach(function (p) {
        var option = document.createElement("option");
        option.value = p[0]; option.textContent = p[1] + " " + p[3];
        option.dataset.price = p[2];
        if (chosen[s.id] === p[0]) option.selected = true;
        select.appendChild(option);
      });
      select.addEventListener("change", function () { chosen[s.id] = select.value; form.dispatchEvent(new Event("input")); });
      return select;
    }
    if (preset.size) map.select(seats.map(function (s, i) { return preset.has(s.id) ? i : -1; }).filter(function (i) { return i >= 0; }), false);

    function refresh() {
      while (out.firstChild) out.removeChild(out.firstChild);
      if (list) while (list.firstChild) list.removeChild(list.firstChild);
      Array.from(map.selected).sort(function (a, b) { return a - b; }).forEach(function (i) {
        var s = seats[i];
        var input = document.createElement("input");
        input.type = "hidden"; input.name = root.dataset.field; input.value = s.id;
        out.appendChild(input);
        if (list) {
          var li = document.createElement("li");
          var name = document.createElement("span");
          name.textContent = label(s) + (s.attributes.length ? " · " + s.attributes.map(function (a) { return attrNames[a] || a; }).join(", ") : "");
          li.appendChild(name);
          if (prices) li.appendChild(typeSelect(s));
          list.appendChild(li);
        }
      });
      form.dispatchEvent(new Event("input"));
    }
    map.onchange = refresh;
    refresh();
    // Keyboard: the arrow keys move a cursor to the nearest seat that way, Enter or Space picks it (Shift keeps
    // the others), Escape clears; the seat, its zone and state are announced.
    var cursor = -1;
    var say = root.querySelector("[data-announce]");
    var STATES = readJSON(root, "data-state-names") || {};
    function moveCursor(dx, dy) {
      var from = cursor >= 0 ? seats[cursor] : null, best = -1, bestScore = Infinity;
      seats.forEach(function (s, i) {
        if (!from) { if (best < 0 || s.y < seats[best].y || (s.y === seats[best].y && s.x < seats[best].x)) best = i; return; }
        var ex = s.x - from.x, ey = s.y - from.y, along = ex * dx + ey * dy;
        if (along <= 0) return;
        var score = along + 3 * Math.abs(ex * dy - ey * dx);  // straight on first, then the closest
        if (score < bestScore) { bestScore = score; best = i; }
      });
      if (best < 0) return;
      if (cursor >= 0) map.nodes[cursor].classList.remove("cursor");
      cursor = best;
      map.nodes[cursor].classList.add("cursor");
      var s = seats[cursor];
      var off = s.withheld.map(function (c) { return CHANNELS[c] || c; }).join(", ");
      if (say) say.textContent = label(s) + " · " + s.zone + " · " + (STATES[s.state] || s.state) + (off ? " · " + (CHANNELS.withheld || "") + " " + off : "");
    }
    host.addEventListener("keydown", function (evt) {
      var dirs = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
      if (dirs[evt.key]) {
        moveCursor(dirs[evt.key][0], dirs[evt.key][1]);
        evt.preventDefault();
      } else if ((evt.key === "Enter" || evt.key === " ") && cursor >= 0) {
        map.select([cursor], true);
        map.nodes[cursor].classList.add("cursor");
        evt.preventDefault();
      } else if (evt.key === "Escape") {
        map.select([], false);
      }
    });

    // While the page is open, seats and zone counts follow sales elsewhere (every 5 s, paused when hidden).
    var live = root.dataset.live;
    if (!live) return;
    var STATE = { f: "free", h: "held", s: "sold", b: "blocked" };
    function poll() {
      if (document.hidden) return;
      fetch(live, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data || data.states.length !== seats.length) return;
          var lost = [];
          seats.forEach(function (s, i) {
            var state = STATE[data.states[i]];
            if (state === s.state) return;
            s.state = state; s.blocked = state === "blocked";
            if (map.selected.has(i) && wanted.indexOf(state) < 0) { map.selected.delete(i); lost.push(i); }
            map.paint(i);
          });
          if (lost.length) refresh();
          data.zones.forEach(function (z) {
            document.querySelectorAll("[data-zone-stats] tr[data-zone]").forEach(function (tr) {
              if (tr.dataset.zone !== z.zone) return;
              tr.querySelectorAll("[data-k]").forEach(function (td) { td.textContent = z[td.dataset.k]; });
            });
          });
          (data.channels || []).forEach(function (c) {
            document.querySelectorAll("[data-channel-stats] tr[data-channel]").forEach(function (tr) {
              if (tr.dataset.channel !== c.channel) return;
              tr.querySelectorAll("[data-k]").forEach(function (td) { td.textContent = c[td.dataset.k]; });
            });
          });
        })
        .catch(function () {});
    }
    setInterval(poll, 5000);
  }

  // The section generator's form shows the fields of the shape chosen (both without this file).
  document.querySelectorAll("select[name=kind]").forEach(function (select) {
    var form = select.form;
    function show() {
      form.querySelectorAll("fieldset.shape-rect, fieldset.shape-arc").forEach(function (f) {
        f.hidden = !f.classList.contains("shape-" + select.value);
      });
    }
    select.addEventListener("change", show);
    show();
  });

  document.querySelectorAll("[data-seat-editor]").forEach(setupEditor);
  document.querySelectorAll("[data-seat-picker]").forEach(setupPicker);
})();
