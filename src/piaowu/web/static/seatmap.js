// The buyer's seat picker: the session's seat map drawn as SVG, its availability kept current by deltas
// (GET seat-availability?since=), "best available" previews (POST best-available), and the chosen seats written
// into the buy form (hidden input "seats": "seat_id:ticket_type_id,…"), which posts as before.
//
// The map comes in parts, so a stadium (80,000 seats) opens on a phone without downloading every seat: GET
// seat-map gives the sections (outline, label, zones, seat count, ordinal runs) and, per section, the URL of its
// seats (immutable: its key is a hash of the answer). A section's seats are fetched when the buyer zooms into it,
// and when one of its seats must be shown otherwise (best available's answer, a choice restored, a key press
// towards it). A small house has every section's seats in the map answer already: the same code takes them.
// Seats are indexed by their ordinal everywhere (the availability's index); a seat not loaded yet has its state
// and section but no place or label.
//
// Rendering levels: "sections" draws only the sections' outlines and labels; "paths" adds the seats in view as
// one <path> per zone and state; "seats" draws each seat in view (with its attribute marks) once a seat is big
// enough to tap. Only what is in view (plus a margin) is drawn, and a pan inside the drawn area only moves a
// transform. Selected, previewed and focused seats live in an overlay that is drawn at every level. Every text
// comes from the page (data-msg-*): translated there.
(function () {
  "use strict";

  var NS = "http://www.w3.org/2000/svg";
  var FREE = 0, TAKEN = 1, BLOCKED = 2;
  var SEAT_PX = 13; // a seat at least this big on screen: draw (and let the buyer tap) seats one by one
  var PATH_PX = 2.5; // below this a seat is a speck: sections only
  var MAX_SEAT_NODES = 4000; // more seats in view than this: paths, however big the seats are
  var LOAD_MARGIN = 0.25; // sections this far around the view (in views) are fetched once seats are drawn
  var POLL_MS = 2000;

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }

  function fill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (m, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : m;
    });
  }

  function formatMoney(minor, symbol, digits, short) {
    // As the server writes money (¥1,760.00); ``short`` drops ".00" where space is tight (legend, filter).
    var scale = Math.pow(10, digits);
    var whole = Math.floor(minor / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var frac = minor % scale;
    return symbol + whole + (digits && (frac || !short) ? "." + String(frac).padStart(digits, "0") : "");
  }

  function attrText(value) {
    return String(value).replace(/[&<>"]/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; });
  }

  function decodeStates(b64, n) {
    // 2 bits per ordinal, four ordinals a byte, the lowest bits first. Null when the answer is of another map.
    var bin = window.atob(b64);
    if (bin.length !== (n + 3) >> 2) return null;
    var out = new Uint8Array(n);
    for (var i = 0; i < n; i++) {
      var byte = bin.charCodeAt(i >> 2);
      out[i] = (byte >> ((i & 3) * 2)) & 3;
    }
    return out;
  }

  function clip(poly, f) {
    // The part of a convex polygon ([[x, y], …]) where the affine function f(x, y) >= 0 (one Sutherland–Hodgman
    // step: an affine f is interpolated exactly along an edge).
    var out = [];
    for (var k = 0; k < poly.length; k++) {
      var a = poly[k], b = poly[(k + 1) % poly.length], fa = f(a[0], a[1]), fb = f(b[0], b[1]);
      if (fa >= 0) out.push(a);
      if ((fa >= 0) !== (fb >= 0)) {
        var t = fa / (fa - fb);
        out.push([a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]);
      }
    }
    return out;
  }

  function centroid(poly) {
    // The area centroid of a simple polygon (inside it when convex); its vertices' mean when it has no area.
    var a = 0, cx = 0, cy = 0, k;
    for (k = 0; k < poly.length; k++) {
      var p = poly[k], q = poly[(k + 1) % poly.length], c = p[0] * q[1] - q[0] * p[1];
      a += c; cx += (p[0] + q[0]) * c; cy += (p[1] + q[1]) * c;
    }
    if (Math.abs(a) < 1e-9) {
      cx = 0; cy = 0;
      for (k = 0; k < poly.length; k++) { cx += poly[k][0]; cy += poly[k][1]; }
      return [cx / poly.length, cy / poly.length];
    }
    return [cx / (3 * a), cy / (3 * a)];
  }

  function quietly() { /* a section that failed to load stays unloaded; what needed it goes on without it */ }

  function SeatPicker(root) {
    this.root = root;
    this.msg = function (key, values) { return fill(root.getAttribute("data-msg-" + key), values || {}); };
    // A counted sentence: the page sends the form for one as ``data-msg-<key>-one`` beside the other form
    // (ngettext in the template; both are the same sentence in Chinese), and the count picks one.
    this.plural = function (key, n, values) {
      return this.msg(n === 1 && root.hasAttribute("data-msg-" + key + "-one") ? key + "-one" : key, values);
    };
    this.max = parseInt(root.dataset.max, 10) || 10;
    this.symbol = root.dataset.currency || "";
    this.digits = parseInt(root.dataset.digits, 10);
    if (isNaN(this.digits)) this.digits = 2;
    this.zh = (root.dataset.lang || "").indexOf("zh") === 0;
    this.selected = []; // [{i: seat index, tt: ticket type id}], in the order chosen
    this.preview = []; // seat indexes the best-available answer proposes
    this.focus = -1;
    this.zoneFilter = ""; // "" all zones, else a price (minor units) as text: zones sold at that price
    this.version = null;
    this.view = { s: 1, tx: 0, ty: 0 };
    this.drawn = null; // {level, x0, y0, x1, y1, rev} of what the seat layer holds
    this.rev = 0; // bumps whenever seat states or the filter change
    this.input = document.getElementById(root.dataset.input);
    this.summary = document.querySelector(root.dataset.summary);
    this.build();
    this.load();
  }

  SeatPicker.prototype.build = function () {
    var self = this;
    var root = this.root;
    this.status = root.querySelector("[data-map-status]");
    this.live = root.querySelector("[data-map-live]");
    this.alert = root.querySelector("[data-map-alert]");
    this.legend = root.querySelector("[data-map-legend]");
    this.filter = root.querySelector("[data-map-filter]");
    this.frame = root.querySelector("[data-map-frame]");
    this.svg = el("svg", { class: "seatmap-svg", role: "application", tabindex: "0",
      "aria-label": this.msg("label"), "aria-describedby": root.dataset.help || "" }, this.frame);
    var defs = el("defs", {}, this.svg);
    var hatch = el("pattern", { id: "sm-hatch", width: "6", height: "6", patternUnits: "userSpaceOnUse",
      patternTransform: "rotate(45)" }, defs);
    el("rect", { width: "6", height: "6", class: "sm-hatch-bg" }, hatch);
    el("line", { x1: "0", y1: "0", x2: "0", y2: "6", class: "sm-hatch-line" }, hatch);
    this.world = el("g", { class: "sm-world" }, this.svg);
    this.stageLayer = el("g", { class: "sm-stage" }, this.world);
    this.sectionLayer = el("g", { class: "sm-sections" }, this.world);
    this.seatLayer = el("g", { class: "sm-seats" }, this.world);
    this.overlay = el("g", { class: "sm-overlay" }, this.world);
    this.labelLayer = el("g", { class: "sm-labels" }, this.world);
    // The minimap: the sections again (copies of their outlines) and the part of the hall in view, shown
    // while zoomed in, so the buyer knows where in the hall they are.
    this.mini = el("svg", { class: "seatmap-mini", "aria-hidden": "true", focusable: "false" }, this.frame);
    this.miniSections = el("g", { class: "sm-mini-sections" }, this.mini);
    this.miniView = el("rect", { class: "sm-mini-view" }, this.mini);

    root.querySelectorAll("[data-zoom]").forEach(function (b) {
      b.addEventListener("click", function () {
        var z = b.dataset.zoom;
        if (z === "fit") self.fit(true);
        else self.zoomAt(z === "in" ? 1.8 : 1 / 1.8, self.width / 2, self.height / 2);
      });
    });
    if (this.filter) this.filter.addEventListener("change", function () { self.setFilter(self.filter.value); });
    this.pointers();
    this.keys();
    window.addEventListener("resize", function () { self.resize(false); });
    var best = document.querySelector(root.dataset.best || "[data-best]");
    if (best) this.bestForm(best);
  };

  // ---- loading the map ---------------------------------------------------------------------------------

  SeatPicker.prototype.load = function () {
    var self = this;
    this.setStatus(this.msg("loading"));
    fetch(this.root.dataset.mapUrl, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (map) { self.setMap(map); return self.poll(true); })
      .catch(function () { self.setStatus(self.msg("load-failed"), true); });
  };

  SeatPicker.prototype.setStatus = function (text, bad) {
    if (!this.status) return;
    this.status.textContent = text || "";
    this.status.hidden = !text;
    this.status.classList.toggle("is-error", !!bad);
  };

  SeatPicker.prototype.setMap = function (map) {
    var n = map.seat_count || 0, self = this;
    this.n = n;
    // By ordinal. Known for every seat from the start: its state and section; once its section is loaded: the rest.
    this.ids = new Array(n);
    this.sec = new Array(n);
    this.row = new Array(n);
    this.num = new Array(n);
    this.zoneOf = new Array(n);
    this.x = new Float64Array(n);
    this.y = new Float64Array(n);
    this.attr = new Uint8Array(n);
    this.loaded = new Uint8Array(n);
    this.state = new Uint8Array(n); // all free until availability says otherwise
    this.byId = {};
    this.attrNames = map.attributes || [];
    this.pitch = map.pitch || 50;
    this.r = this.pitch * 0.42;
    var pad = this.pitch * 2, b = map.bounds || [0, 0, 0, 0];
    // The stage grows with the house: a seat's height would draw it a couple of pixels tall over 40,000 seats.
    this.stageH = Math.max(this.pitch * 1.6, Math.min(b[2] - b[0], b[3] - b[1]) * 0.05);
    this.bounds = { x0: b[0] - pad, y0: b[1] - Math.max(pad * 3, this.stageH + this.pitch * 2.5), x1: b[2] + pad, y1: b[3] + pad };
    // Zones, their colours (a class each) and their prices per ticket type.
    this.zones = {};
    this.zoneList = [];
    var addZone = function (zone, prices) {
      if (self.zones[zone]) return;
      self.zones[zone] = { k: self.zoneList.length % 8, prices: prices || [], name: zone };
      self.zoneList.push(zone);
    };
    (map.zones || []).forEach(function (z) { addZone(z.zone, z.prices); });
    // Sections, in the map's order; each seat's section from their ordinal runs.
    this.sections = {};
    this.sectionList = [];
    this.sectionLabels = {};
    (map.sections || []).forEach(function (s) {
      var zones = {};
      (s.zones || []).forEach(function (z) { zones[z[0]] = (zones[z[0]] || 0) + z[1]; addZone(z[0]); });
      var sec = { id: s.id, url: s.seats_url, outline: s.outline || [], zones: zones, attrs: s.attributes || 0,
        count: s.seat_count || 0, runs: s.ordinals || [], box: s.bbox || [0, 0, 0, 0], inline: s.seats, loaded: false };
      sec.runs.forEach(function (run) { for (var k = 0; k < run[1]; k++) self.sec[run[0] + k] = s.id; });
      self.sections[s.id] = sec;
      self.sectionList.push(sec);
      self.sectionLabels[s.id] = s.label || s.id;
    });
    this.refused = {};
    (this.root.dataset.refused || "").split(",").filter(Boolean).forEach(function (id) { self.refused[id] = 1; });
    this.grid();
    this.sectionList.forEach(function (sec) { if (sec.inline) self.addSeats(sec, sec.inline); });
    this.drawStage();
    this.drawSections();
    this.mini.setAttribute("viewBox", [this.bounds.x0, this.bounds.y0, this.bounds.x1 - this.bounds.x0, this.bounds.y1 - this.bounds.y0].join(" "));
    this.sectionList.forEach(function (sec) { sec.mini = self.miniSections.appendChild(sec.path.cloneNode(false)); });
    this.mini.appendChild(this.miniView);
    this.drawLegend();
    this.drawFilter();
    this.setStatus("");
    this.root.classList.add("is-ready");
    this.resize(true);
    this.restore();
    this.listPicker();
  };

  SeatPicker.prototype.grid = function () {
    // A uniform grid of the loaded seats (cells of 4 pitches) for "what is in view" and "which seat is here".
    var b = this.bounds;
    this.cell = this.pitch * 4;
    this.cols = Math.max(1, Math.ceil((b.x1 - b.x0) / this.cell));
    this.rows = Math.max(1, Math.ceil((b.y1 - b.y0) / this.cell));
    this.cells = new Array(this.cols * this.rows);
  };

  // ---- a section's seats: loaded once, from the map answer or its own URL ----------------------------------

  SeatPicker.prototype.addSeats = function (sec, data) {
    // Columns (docs/api.md): ordinal runs, ids, row runs, numbers, x, y, zone runs, sparse attribute bits.
    var ords = [], k, j, o;
    (data.ordinals || []).forEach(function (run) { for (var m = 0; m < run[1]; m++) ords.push(run[0] + m); });
    var rows = [], zones = [];
    (data.rows || []).forEach(function (run) { for (var m = 0; m < run[1]; m++) rows.push(run[0]); });
    (data.zones || []).forEach(function (run) { for (var m = 0; m < run[1]; m++) zones.push(run[0]); });
    for (k = 0; k < ords.length; k++) {
      o = ords[k];
      if (o >= this.n) continue;
      this.ids[o] = data.ids[k]; this.byId[data.ids[k]] = o;
      this.row[o] = rows[k]; this.num[o] = data.numbers[k];
      this.x[o] = data.x[k]; this.y[o] = data.y[k];
      this.zoneOf[o] = zones[k];
      if (!this.zones[zones[k]]) {
        this.zones[zones[k]] = { k: this.zoneList.length % 8, prices: [], name: zones[k] };
        this.zoneList.push(zones[k]);
      }
      this.loaded[o] = 1;
      var c = this.cellOf(this.x[o], this.y[o]);
      (this.cells[c] || (this.cells[c] = [])).push(o);
      // A seat the server just refused is taken as far as this page knows, until availability says more.
      if (this.refused[data.ids[k]] && this.state[o] === FREE) this.state[o] = TAKEN;
    }
    for (j = 0; j < (data.attributes || []).length; j++) this.attr[ords[data.attributes[j][0]]] = data.attributes[j][1];
    sec.seats = ords;
    sec.loaded = true;
    sec.inline = null;
    this.loadedSections = (this.loadedSections || 0) + 1;
    this.root.dataset.sectionsLoaded = String(this.loadedSections);
    this.rev++;
    if (this.width) this.render(true);
  };

  SeatPicker.prototype.ensure = function (sec) {
    // A promise of the section's seats (fetched once; the browser keeps the answer: its URL is immutable).
    var self = this;
    if (sec.loaded) return Promise.resolve(sec);
    if (sec.promise) return sec.promise;
    sec.promise = fetch(sec.url, { headers: { Accept: "application/json" } })
      .then(function (r) {
        // 404: the key is no longer the session's (its seats were replaced): this page's map is out of date.
        if (r.status === 404) self.setStatus(self.msg("load-failed"), true);
        return r.ok ? r.json() : Promise.reject(r.status);
      })
      .then(function (data) { if (!sec.loaded) self.addSeats(sec, data); return sec; })
      .catch(function (err) { sec.promise = null; sec.failed = (sec.failed || 0) + 1; throw err; });
    return sec.promise;
  };

  SeatPicker.prototype.ensureAll = function (list) {
    var self = this;
    return Promise.all(list.map(function (sec) { return self.ensure(sec).catch(quietly); }));
  };

  SeatPicker.prototype.want = function (level) {
    // Seats are drawn at this level: fetch the sections in (and a little around) the view.
    if (level === "sections") return;
    var v = this.visibleRect(LOAD_MARGIN), self = this;
    this.sectionList.forEach(function (sec) {
      var b = sec.box, m = self.pitch;
      if (!sec.loaded && !sec.promise && (sec.failed || 0) < 2 && b[0] - m <= v.x1 && b[2] + m >= v.x0 && b[1] - m <= v.y1 && b[3] + m >= v.y0) {
        self.ensure(sec).catch(quietly);
      }
    });
  };

  SeatPicker.prototype.freeIn = function (sec) {
    var free = 0, st = this.state;
    sec.runs.forEach(function (run) { for (var o = run[0]; o < run[0] + run[1]; o++) if (st[o] === FREE) free++; });
    return free;
  };

  SeatPicker.prototype.cellOf = function (x, y) {
    var cx = Math.min(this.cols - 1, Math.max(0, Math.floor((x - this.bounds.x0) / this.cell)));
    var cy = Math.min(this.rows - 1, Math.max(0, Math.floor((y - this.bounds.y0) / this.cell)));
    return cy * this.cols + cx;
  };

  SeatPicker.prototype.seatsIn = function (x0, y0, x1, y1, limit) {
    var b = this.bounds, out = [];
    var cx0 = Math.max(0, Math.floor((x0 - b.x0) / this.cell)), cx1 = Math.min(this.cols - 1, Math.floor((x1 - b.x0) / this.cell));
    var cy0 = Math.max(0, Math.floor((y0 - b.y0) / this.cell)), cy1 = Math.min(this.rows - 1, Math.floor((y1 - b.y0) / this.cell));
    for (var cy = cy0; cy <= cy1; cy++) {
      for (var cx = cx0; cx <= cx1; cx++) {
        var list = this.cells[cy * this.cols + cx];
        if (!list) continue;
        for (var k = 0; k < list.length; k++) {
          var i = list[k];
          if (this.x[i] >= x0 && this.x[i] <= x1 && this.y[i] >= y0 && this.y[i] <= y1) out.push(i);
        }
        if (limit && out.length > limit) return out;
      }
    }
    return out;
  };

  SeatPicker.prototype.seatAt = function (x, y) {
    var best = -1, bestD = this.pitch * 0.75;
    var near = this.seatsIn(x - this.pitch, y - this.pitch, x + this.pitch, y + this.pitch);
    for (var k = 0; k < near.length; k++) {
      var d = Math.hypot(this.x[near[k]] - x, this.y[near[k]] - y);
      if (d < bestD) { bestD = d; best = near[k]; }
    }
    return best;
  };

  // ---- drawing ---------------------------------------------------------------------------------------

  SeatPicker.prototype.drawStage = function () {
    // Seats are laid out with y growing away from the stage, so the stage is above them; a bowl (sections all
    // round an empty middle) has it in the middle instead.
    var b = this.bounds, w, h, cx, y;
    var mx = (b.x0 + b.x1) / 2, my = (b.y0 + b.y1) / 2, qw = (b.x1 - b.x0) * 0.12, qh = (b.y1 - b.y0) * 0.12;
    var touches = function (x0, y0, x1, y1) {
      return function (sec) { return sec.box[0] <= x1 && sec.box[2] >= x0 && sec.box[1] <= y1 && sec.box[3] >= y0; };
    };
    var bowl = this.sectionList.length > 0 && !this.sectionList.some(touches(mx - qw, my - qh, mx + qw, my + qh)) &&
      this.sectionList.some(touches(b.x0, b.y0, b.x1, my - qh)) && this.sectionList.some(touches(b.x0, my + qh, b.x1, b.y1));
    if (bowl) {
      w = qw * 1.6; h = qh * 1.1; cx = mx; y = my - h / 2;
    } else {
      // Two thirds of the room kept above the seats: the rest is the gap between the stage and the first row.
      w = (b.x1 - b.x0) * 0.5; h = Math.max(this.pitch * 1.6, this.stageH * 0.66); cx = mx; y = b.y0 + this.pitch * 0.5;
    }
    el("rect", { x: cx - w / 2, y: y, width: w, height: h, rx: Math.min(h, w) / 4, class: "sm-stage-box" }, this.stageLayer);
    var fs = Math.min(h * 0.55, w / 5);
    var t = el("text", { x: cx, y: y + h / 2 + fs * 0.36, class: "sm-stage-text", "font-size": fs }, this.stageLayer);
    t.textContent = this.msg("stage");
  };

  SeatPicker.prototype.drawSections = function () {
    // Each section: its outline (from the map answer: its seats' hull, grown by a seat), filled in its main
    // zone's colour, with its label; hatched once it has no free seat.
    var self = this;
    this.sectionList.forEach(function (sec) {
      var pts = sec.outline.length ? sec.outline : [[sec.box[0], sec.box[1]], [sec.box[2], sec.box[1]], [sec.box[2], sec.box[3]], [sec.box[0], sec.box[3]]];
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      var d = pts.map(function (p, k) {
        x0 = Math.min(x0, p[0]); x1 = Math.max(x1, p[0]); y0 = Math.min(y0, p[1]); y1 = Math.max(y1, p[1]);
        return (k ? "L" : "M") + p[0] + " " + p[1];
      }).join("") + "Z";
      var main = Object.keys(sec.zones).sort(function (a, b) { return sec.zones[b] - sec.zones[a]; })[0];
      sec.path = el("path", { d: d, class: "sm-section z" + (main !== undefined ? self.zones[main].k : 0), "data-section": sec.id }, self.sectionLayer);
      var c = centroid(pts);
      var size = self.pitch * 2; // sized to the zoom by paintOverlay
      sec.label = el("text", { x: c[0], y: c[1] + size * 0.35, class: "sm-section-label", "font-size": size }, self.labelLayer);
      sec.label.textContent = self.sectionLabels[sec.id] || sec.id;
      sec.poly = pts;
      sec.x0 = x0; sec.y0 = y0; sec.x1 = x1; sec.y1 = y1; sec.cy = c[1];
    });
  };

  SeatPicker.prototype.markSoldOut = function () {
    var self = this;
    this.sectionList.forEach(function (sec) {
      var out = self.freeIn(sec) === 0;
      sec.path.classList.toggle("is-sold-out", out);
      if (sec.mini) sec.mini.classList.toggle("is-sold-out", out);
    });
  };

  SeatPicker.prototype.level = function () {
    var px = this.pitch * this.view.s;
    if (px >= SEAT_PX) return "seats";
    if (px >= PATH_PX) return "paths";
    return "sections";
  };

  SeatPicker.prototype.visibleRect = function (margin) {
    var v = this.view, m = margin || 0;
    var w = this.width / v.s, h = this.height / v.s;
    var x0 = -v.tx / v.s, y0 = -v.ty / v.s;
    return { x0: x0 - w * m, y0: y0 - h * m, x1: x0 + w * (1 + m), y1: y0 + h * (1 + m) };
  };

  SeatPicker.prototype.seatClass = function (i) {
    var z = this.zones[this.zoneOf[i]];
    var st = this.state[i];
    var cls = st === TAKEN ? "st-taken" : st === BLOCKED ? "st-blocked" : "st-free z" + z.k;
    if (st === FREE && !this.inFilter(i)) cls = "st-dim";
    return cls;
  };

  SeatPicker.prototype.inFilter = function (i) {
    if (!this.zoneFilter) return true;
    var z = this.zones[this.zoneOf[i]];
    var want = parseInt(this.zoneFilter, 10);
    return z.prices.some(function (p) { return p.price_minor === want; });
  };

  SeatPicker.prototype.render = function (force) {
    var self = this;
    if (this.raf) return;
    this.raf = window.requestAnimationFrame(function () {
      self.raf = 0;
      self.paint(force);
    });
  };

  SeatPicker.prototype.paint = function (force) {
    if (!this.n) return;
    var v = this.view;
    this.world.setAttribute("transform", "translate(" + v.tx.toFixed(2) + " " + v.ty.toFixed(2) + ") scale(" + v.s.toPrecision(6) + ")");
    var level = this.level();
    this.want(level);
    var vis = this.visibleRect(0);
    var d = this.drawn;
    var inside = d && d.level === level && d.rev === this.rev && vis.x0 >= d.x0 && vis.y0 >= d.y0 && vis.x1 <= d.x1 && vis.y1 <= d.y1;
    this.root.dataset.level = level;
    this.svg.classList.toggle("is-seat-level", level === "seats");
    if (!force && inside) { this.paintOverlay(); return; }
    var area = this.visibleRect(0.5);
    var list = level === "sections" ? [] : this.seatsIn(area.x0, area.y0, area.x1, area.y1);
    if (level === "seats" && list.length > MAX_SEAT_NODES) {
      area = this.visibleRect(0.1);
      list = this.seatsIn(area.x0, area.y0, area.x1, area.y1);
      if (list.length > MAX_SEAT_NODES) level = "paths";
    }
    var html = [], r = this.r, i, k;
    if (level === "seats") {
      var marks = this.attrNames;
      for (k = 0; k < list.length; k++) {
        i = list[k];
        var cls = this.seatClass(i);
        var x = this.x[i].toFixed(1), y = this.y[i].toFixed(1);
        var bits = this.attr[i];
        var id = ' data-seat="' + attrText(this.ids[i]) + '"';
        if (bits & this.bit("wheelchair")) {
          html.push('<rect' + id + ' class="sm-seat ' + cls + '" x="' + (this.x[i] - r).toFixed(1) + '" y="' + (this.y[i] - r).toFixed(1) + '" width="' + (2 * r).toFixed(1) + '" height="' + (2 * r).toFixed(1) + '" rx="' + (r / 4).toFixed(1) + '"/>');
        } else {
          html.push('<circle' + id + ' class="sm-seat ' + cls + '" cx="' + x + '" cy="' + y + '" r="' + r.toFixed(1) + '"/>');
        }
        if (this.state[i] !== FREE) {
          var a = r * 0.45;
          html.push('<path class="sm-x" d="M' + (this.x[i] - a).toFixed(1) + " " + (this.y[i] - a).toFixed(1) + "l" + (2 * a).toFixed(1) + " " + (2 * a).toFixed(1) + "m0 " + (-2 * a).toFixed(1) + "l" + (-2 * a).toFixed(1) + " " + (2 * a).toFixed(1) + '"/>');
        } else if (bits) {
          html.push(this.markFor(i, bits, marks));
        }
      }
    } else if (level === "paths") {
      var groups = {};
      for (k = 0; k < list.length; k++) {
        i = list[k];
        var c = this.seatClass(i);
        (groups[c] || (groups[c] = [])).push("M" + (this.x[i] - r).toFixed(0) + " " + (this.y[i] - r).toFixed(0) + "h" + (2 * r).toFixed(0) + "v" + (2 * r).toFixed(0) + "h" + (-2 * r).toFixed(0) + "z");
      }
      for (var g in groups) html.push('<path class="sm-seats-path ' + g + '" d="' + groups[g].join("") + '"/>');
    }
    this.seatLayer.innerHTML = html.join("");
    this.drawn = { level: level, x0: area.x0, y0: area.y0, x1: area.x1, y1: area.y1, rev: this.rev };
    this.root.dataset.level = level;
    this.root.dataset.drawn = String(level === "sections" ? 0 : list.length);
    this.paintOverlay();
  };

  SeatPicker.prototype.bit = function (name) {
    var k = this.attrNames.indexOf(name);
    return k < 0 ? 0 : 1 << k;
  };

  SeatPicker.prototype.markFor = function (i, bits) {
    // Attribute marks drawn on the seat, so they never rest on colour alone: ♿ wheelchair (also a square
    // seat), + companion, a pillar for restricted view (柱子票), half a disc for partial view.
    var x = this.x[i], y = this.y[i], r = this.r, out = [];
    if (bits & this.bit("wheelchair")) {
      // The wheelchair symbol drawn, not typed: phones without an emoji font would show a box.
      var u = r / 10;
      out.push('<circle class="sm-mark-fill" cx="' + (x - u).toFixed(1) + '" cy="' + (y - 5.5 * u).toFixed(1) + '" r="' + (1.5 * u).toFixed(1) + '"/>');
      out.push('<path class="sm-mark" d="M' + (x - u).toFixed(1) + " " + (y - 3 * u).toFixed(1) + "v" + (3.5 * u).toFixed(1) + "h" + (3.5 * u).toFixed(1) + "l" + (1.5 * u).toFixed(1) + " " + (3.5 * u).toFixed(1) +
        "M" + (x - 3.5 * u).toFixed(1) + " " + (y - 0.5 * u).toFixed(1) + "a" + (3.6 * u).toFixed(1) + " " + (3.6 * u).toFixed(1) + ' 0 1 0 ' + (5 * u).toFixed(1) + " " + (5 * u).toFixed(1) + '"/>');
    }
    if (bits & this.bit("companion")) {
      var a = r * 0.5;
      out.push('<path class="sm-mark" d="M' + (x - a).toFixed(1) + " " + y.toFixed(1) + "h" + (2 * a).toFixed(1) + "M" + x.toFixed(1) + " " + (y - a).toFixed(1) + "v" + (2 * a).toFixed(1) + '"/>');
    }
    if (bits & this.bit("restricted_view")) {
      out.push('<rect class="sm-mark-fill" x="' + (x - r * 0.18).toFixed(1) + '" y="' + (y - r * 0.62).toFixed(1) + '" width="' + (r * 0.36).toFixed(1) + '" height="' + (r * 1.24).toFixed(1) + '"/>');
    }
    if (bits & this.bit("partial_view")) {
      out.push('<path class="sm-mark-fill" d="M' + x.toFixed(1) + " " + (y - r * 0.6).toFixed(1) + "a" + (r * 0.6).toFixed(1) + " " + (r * 0.6).toFixed(1) + " 0 0 1 0 " + (r * 1.2).toFixed(1) + 'z"/>');
    }
    return out.join("");
  };

  SeatPicker.prototype.paintOverlay = function () {
    // Selected and previewed seats and the keyboard focus, at every level (a handful of nodes).
    var html = [], r = this.r, self = this;
    var minR = 5 / this.view.s; // visible even when the map is zoomed out
    var rr = Math.max(r, minR);
    this.preview.forEach(function (i) {
      html.push('<circle class="sm-preview" cx="' + self.x[i].toFixed(1) + '" cy="' + self.y[i].toFixed(1) + '" r="' + (rr * 1.15).toFixed(1) + '"/>');
    });
    this.selected.forEach(function (s) {
      var i = s.i, x = self.x[i], y = self.y[i];
      html.push('<circle class="sm-selected" cx="' + x.toFixed(1) + '" cy="' + y.toFixed(1) + '" r="' + rr.toFixed(1) + '"/>');
      var a = rr * 0.5;
      html.push('<path class="sm-check" d="M' + (x - a).toFixed(1) + " " + y.toFixed(1) + "l" + (a * 0.7).toFixed(1) + " " + (a * 0.7).toFixed(1) + "l" + (a * 1.3).toFixed(1) + " " + (-a * 1.4).toFixed(1) + '"/>');
    });
    if (this.focus >= 0 && this.hasFocus) {
      html.push('<circle class="sm-focus" cx="' + this.x[this.focus].toFixed(1) + '" cy="' + this.y[this.focus].toFixed(1) + '" r="' + (rr * 1.45).toFixed(1) + '"/>');
    }
    this.overlay.innerHTML = html.join("");
    var level = this.root.dataset.level;
    this.labelLayer.classList.toggle("is-hidden", level === "seats");
    // Labels about 14 px on screen whatever the zoom, as long as they fit in their section.
    var sc = this.view.s;
    for (var id in this.sections) {
      var sec = this.sections[id];
      var size = Math.min(14 / sc, (sec.x1 - sec.x0) / 3, (sec.y1 - sec.y0) / 1.4);
      sec.label.setAttribute("font-size", size.toFixed(1));
      sec.label.setAttribute("y", (sec.cy + size * 0.35).toFixed(1));
      sec.label.classList.toggle("is-hidden", size * sc < 9);
    }
    var vis = this.visibleRect(0), b = this.bounds;
    var zoomed = sc > this.minScale * 2.2;
    this.mini.classList.toggle("is-shown", zoomed);
    if (zoomed) {
      var x0 = Math.max(b.x0, vis.x0), y0 = Math.max(b.y0, vis.y0);
      this.miniView.setAttribute("x", x0); this.miniView.setAttribute("y", y0);
      this.miniView.setAttribute("width", Math.max(0, Math.min(b.x1, vis.x1) - x0));
      this.miniView.setAttribute("height", Math.max(0, Math.min(b.y1, vis.y1) - y0));
    }
    this.sectionLayer.classList.toggle("is-faint", level !== "sections");
  };

  // ---- legend and price filter -----------------------------------------------------------------------

  SeatPicker.prototype.priceText = function (zone) {
    var self = this;
    var prices = this.zones[zone].prices.map(function (p) { return p.price_minor; });
    if (!prices.length) return "";
    var lo = Math.min.apply(null, prices), hi = Math.max.apply(null, prices);
    var fmt = function (v) { return formatMoney(v, self.symbol, self.digits, true); };
    return lo === hi ? fmt(lo) : fmt(lo) + "–" + fmt(hi);
  };

  SeatPicker.prototype.drawLegend = function () {
    if (!this.legend) return;
    var self = this;
    var ul = this.legend.querySelector("[data-legend-zones]");
    ul.textContent = "";
    this.zoneList.forEach(function (zone) {
      var li = document.createElement("li");
      li.className = "legend-zone";
      var chip = document.createElement("span");
      chip.className = "sm-chip z" + self.zones[zone].k;
      chip.setAttribute("aria-hidden", "true");
      li.appendChild(chip);
      var name = document.createElement("span");
      name.textContent = self.msg("zone", { zone: zone }) + " ";
      li.appendChild(name);
      var price = document.createElement("strong");
      price.className = "num";
      price.textContent = self.priceText(zone);
      li.appendChild(price);
      li.setAttribute("data-zone", zone);
      ul.appendChild(li);
    });
    // Attribute marks that this map has.
    var present = 0;
    this.sectionList.forEach(function (sec) { present |= sec.attrs; });
    this.legend.querySelectorAll("[data-legend-attr]").forEach(function (li) {
      li.hidden = !(present & self.bit(li.getAttribute("data-legend-attr")));
    });
    var wheel = document.querySelector("[data-best-wheelchair-box]");
    if (wheel) wheel.hidden = !(present & this.bit("wheelchair"));
    // Best available gives a restricted or partial view only when the buyer ticks this (shown if the map has one).
    var limited = document.querySelector("[data-best-restricted-box]");
    if (limited) limited.hidden = !(present & (this.bit("restricted_view") | this.bit("partial_view")));
  };

  SeatPicker.prototype.drawFilter = function () {
    if (!this.filter) return;
    var self = this, seen = {}, prices = [];
    this.zoneList.forEach(function (zone) {
      self.zones[zone].prices.forEach(function (p) {
        if (!seen[p.price_minor]) { seen[p.price_minor] = 1; prices.push(p.price_minor); }
      });
    });
    prices.sort(function (a, b) { return b - a; });
    prices.forEach(function (p) {
      var o = document.createElement("option");
      o.value = String(p);
      o.textContent = formatMoney(p, self.symbol, self.digits, true);
      self.filter.appendChild(o);
    });
    this.filter.closest("[data-filter-box]").hidden = prices.length < 2;
  };

  SeatPicker.prototype.setFilter = function (value) {
    this.zoneFilter = value;
    this.rev++;
    var self = this;
    if (this.legend) {
      this.legend.querySelectorAll("[data-zone]").forEach(function (li) {
        var zone = li.getAttribute("data-zone");
        var on = !value || self.zones[zone].prices.some(function (p) { return String(p.price_minor) === value; });
        li.classList.toggle("is-off", !on);
      });
    }
    Object.keys(this.sections).forEach(function (id) {
      var on = !value || Object.keys(self.sections[id].zones).some(function (z) {
        return self.zones[z].prices.some(function (p) { return String(p.price_minor) === value; });
      });
      self.sections[id].path.classList.toggle("is-off", !on);
      self.sections[id].mini.classList.toggle("is-off", !on);
    });
    this.render(true);
  };

  // ---- view: zoom and pan ------------------------------------------------------------------------------

  SeatPicker.prototype.resize = function (first) {
    var rect = this.frame.getBoundingClientRect();
    var w = rect.width || 320, h = rect.height || 320;
    if (!first && this.width) {
      // Keep the centre where it was.
      this.view.tx += (w - this.width) / 2;
      this.view.ty += (h - this.height) / 2;
    }
    this.width = w; this.height = h;
    this.svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    if (first) this.fit(false);
    else this.render(true);
  };

  SeatPicker.prototype.fitRect = function (x0, y0, x1, y1) {
    var s = Math.min(this.width / (x1 - x0), this.height / (y1 - y0));
    this.view.s = s;
    this.view.tx = (this.width - (x1 - x0) * s) / 2 - x0 * s;
    this.view.ty = (this.height - (y1 - y0) * s) / 2 - y0 * s;
    this.render();
  };

  SeatPicker.prototype.fit = function () {
    var b = this.bounds;
    this.minScale = Math.min(this.width / (b.x1 - b.x0), this.height / (b.y1 - b.y0)) * 0.9;
    this.maxScale = 48 / this.pitch; // a seat 48 px wide at most
    this.fitRect(b.x0, b.y0, b.x1, b.y1);
  };

  SeatPicker.prototype.zoomAt = function (factor, px, py) {
    var v = this.view;
    var s = Math.max(this.minScale, Math.min(this.maxScale, v.s * factor));
    var mx = (px - v.tx) / v.s, my = (py - v.ty) / v.s;
    v.s = s;
    v.tx = px - mx * s;
    v.ty = py - my * s;
    this.clamp();
    this.render();
  };

  SeatPicker.prototype.clamp = function () {
    // Keep some of the map on screen: a pan can never lose it.
    var v = this.view, b = this.bounds;
    var minTx = this.width * 0.5 - b.x1 * v.s, maxTx = this.width * 0.5 - b.x0 * v.s;
    var minTy = this.height * 0.5 - b.y1 * v.s, maxTy = this.height * 0.5 - b.y0 * v.s;
    v.tx = Math.min(maxTx, Math.max(minTx, v.tx));
    v.ty = Math.min(maxTy, Math.max(minTy, v.ty));
  };

  SeatPicker.prototype.centreOn = function (i, seatPx) {
    var v = this.view;
    if (seatPx) v.s = Math.max(v.s, Math.min(this.maxScale, seatPx / this.pitch));
    var sx = this.x[i] * v.s + v.tx, sy = this.y[i] * v.s + v.ty;
    var m = Math.min(60, this.width / 4);
    if (sx < m || sx > this.width - m || sy < m || sy > this.height - m || seatPx) {
      v.tx = this.width / 2 - this.x[i] * v.s;
      v.ty = this.height / 2 - this.y[i] * v.s;
    }
    this.clamp();
    this.render();
  };

  SeatPicker.prototype.toMap = function (clientX, clientY) {
    var rect = this.svg.getBoundingClientRect();
    return { px: clientX - rect.left, py: clientY - rect.top,
      x: (clientX - rect.left - this.view.tx) / this.view.s, y: (clientY - rect.top - this.view.ty) / this.view.s };
  };

  SeatPicker.prototype.pointers = function () {
    // Pointer events for mouse, pen and touch alike: one pointer pans, two pinch; a press that barely moved
    // is a tap: a seat at seat level, else a zoom towards that place.
    var self = this, svg = this.svg, active = {}, start = null, pinch = null;
    var count = function () { return Object.keys(active).length; };
    svg.addEventListener("pointerdown", function (e) {
      if (e.pointerType === "mouse" && e.button !== 0) return;
      try { svg.setPointerCapture(e.pointerId); } catch (err) { /* a pointer the browser no longer knows */ }
      active[e.pointerId] = { x: e.clientX, y: e.clientY };
      if (count() === 1) start = { x: e.clientX, y: e.clientY, tx: self.view.tx, ty: self.view.ty, moved: false, t: Date.now() };
      if (count() === 2) {
        var p = Object.keys(active).map(function (k) { return active[k]; });
        pinch = { d: Math.hypot(p[0].x - p[1].x, p[0].y - p[1].y) || 1, s: self.view.s };
        if (start) start.moved = true;
      }
    });
    svg.addEventListener("pointermove", function (e) {
      if (!active[e.pointerId]) return;
      active[e.pointerId] = { x: e.clientX, y: e.clientY };
      if (count() >= 2 && pinch) {
        var p = Object.keys(active).map(function (k) { return active[k]; });
        var d = Math.hypot(p[0].x - p[1].x, p[0].y - p[1].y) || 1;
        var mid = self.toMap((p[0].x + p[1].x) / 2, (p[0].y + p[1].y) / 2);
        self.zoomAt((pinch.s * d / pinch.d) / self.view.s, mid.px, mid.py);
        return;
      }
      if (!start) return;
      var dx = e.clientX - start.x, dy = e.clientY - start.y;
      if (!start.moved && Math.hypot(dx, dy) < 8) return;
      start.moved = true;
      self.view.tx = start.tx + dx;
      self.view.ty = start.ty + dy;
      self.clamp();
      self.render();
    });
    var end = function (e) {
      if (!active[e.pointerId]) return;
      delete active[e.pointerId];
      if (count() < 2) pinch = null;
      if (count() === 0) {
        if (start && !start.moved && e.type === "pointerup") self.tap(e.clientX, e.clientY);
        start = null;
      } else if (count() === 1) {
        // The finger still down continues as a pan from here.
        var k = Object.keys(active)[0];
        start = { x: active[k].x, y: active[k].y, tx: self.view.tx, ty: self.view.ty, moved: true };
      }
    };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
    svg.addEventListener("wheel", function (e) {
      e.preventDefault();
      var m = self.toMap(e.clientX, e.clientY);
      self.zoomAt(Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015)), m.px, m.py);
    }, { passive: false });
  };

  SeatPicker.prototype.tap = function (clientX, clientY) {
    if (!this.n) return;
    var m = this.toMap(clientX, clientY), self = this;
    if (this.level() !== "seats") {
      // Zoom into the section tapped (or towards the place), so seats become big enough to tap.
      var target = this.pitch * 22 / Math.max(1, this.pitch * this.view.s);
      this.zoomAt(Math.max(2, Math.min(target, 6)), m.px, m.py);
      return;
    }
    var i = this.seatAt(m.x, m.y);
    if (i < 0) {
      // A section under the finger whose seats are still on their way: the tap counts once they are here.
      var here = this.sectionList.filter(function (sec) {
        return !sec.loaded && m.x >= sec.x0 && m.x <= sec.x1 && m.y >= sec.y0 && m.y <= sec.y1;
      });
      if (here.length) {
        this.ensureAll(here).then(function () {
          var j = self.seatAt(m.x, m.y);
          if (j >= 0) { self.focus = j; self.toggle(j); }
        });
      }
      return;
    }
    this.focus = i;
    this.toggle(i);
  };

  // ---- keyboard ----------------------------------------------------------------------------------------

  SeatPicker.prototype.keys = function () {
    var self = this, svg = this.svg;
    // Key presses are handled in order, each after the sections it needs have arrived (an arrow key towards a
    // section not loaded yet fetches it first), so a quick "→ → Enter" still chooses the second seat.
    var queue = Promise.resolve();
    var later = function (step) { queue = queue.then(step).catch(quietly); };
    svg.addEventListener("focus", function () {
      self.hasFocus = true;
      if (self.focus < 0 && self.n) {
        later(function () {
          if (self.focus >= 0) return null;
          return self.startSeat().then(function (i) { if (self.focus < 0 && i >= 0) { self.focus = i; self.paintOverlay(); } });
        });
      }
      self.paintOverlay();
    });
    svg.addEventListener("blur", function () { self.hasFocus = false; self.paintOverlay(); });
    svg.addEventListener("keydown", function (e) {
      if (!self.n) return;
      var dir = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[e.key];
      if (dir) {
        e.preventDefault();
        later(function () {
          return (self.focus < 0 ? self.startSeat() : self.neighbour(self.focus, dir[0], dir[1])).then(function (next) {
            if (next < 0) return;
            self.focus = next;
            self.centreOn(next, self.level() === "seats" ? 0 : 26);
            self.say(self.describe(next));
          });
        });
        return;
      }
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        later(function () { if (self.focus >= 0) self.toggle(self.focus); });
      } else if (e.key === "+" || e.key === "=") {
        e.preventDefault(); self.zoomAt(1.5, self.width / 2, self.height / 2);
      } else if (e.key === "-") {
        e.preventDefault(); self.zoomAt(1 / 1.5, self.width / 2, self.height / 2);
      } else if (e.key === "0" || e.key === "Home") {
        e.preventDefault(); self.fit();
      } else if (e.key === "Escape" && self.preview.length) {
        e.preventDefault(); self.preview = []; self.bestState(""); self.paintOverlay();
      }
    });
  };

  SeatPicker.prototype.loadedSeats = function (visit) {
    for (var k = 0; k < this.sectionList.length; k++) {
      var sec = this.sectionList[k];
      if (sec.loaded) for (var j = 0; j < sec.seats.length; j++) visit(sec.seats[j]);
    }
  };

  SeatPicker.prototype.startSeat = function () {
    // A promise of the free seat nearest the middle of the view, fetching the nearest sections first: one at a
    // time, while one not loaded could still hold a nearer seat (or a free one, when the loaded have none).
    var self = this, r = this.visibleRect(0), cx = (r.x0 + r.x1) / 2, cy = (r.y0 + r.y1) / 2;
    var best = -1, bestD = Infinity;
    this.loadedSeats(function (i) {
      var d = Math.hypot(self.x[i] - cx, self.y[i] - cy) + (self.state[i] === FREE ? 0 : 1e9);
      if (d < bestD) { bestD = d; best = i; }
    });
    var next = null, nextD = Infinity;
    this.sectionList.forEach(function (sec) {
      if (sec.loaded || (sec.failed || 0) >= 2) return;
      var dx = Math.max(sec.x0 - cx, 0, cx - sec.x1), dy = Math.max(sec.y0 - cy, 0, cy - sec.y1);
      var d = Math.hypot(dx, dy) + (self.freeIn(sec) ? 0 : 1e9);
      if (d < nextD) { nextD = d; next = sec; }
    });
    if (next && nextD < bestD) return this.ensure(next).catch(quietly).then(function () { return self.startSeat(); });
    return Promise.resolve(best);
  };

  SeatPicker.prototype.neighbour = function (from, ux, uy) {
    // A promise of the nearest seat in that direction: distance along it plus twice the distance across it,
    // within a 60° cone; a linear scan of the loaded seats (80,000 take a couple of milliseconds). A section not
    // loaded whose outline holds a place that would score better is fetched first, and the scan done again:
    // the arrow keys cross from one section into the next as they do within one.
    var fx = this.x[from], fy = this.y[from], best = -1, bestScore = Infinity, eps = this.pitch * 0.2, self = this;
    this.loadedSeats(function (i) {
      var dx = self.x[i] - fx, dy = self.y[i] - fy;
      var along = dx * ux + dy * uy;
      if (along <= eps) return;
      var across = Math.abs(dx * uy - dy * ux);
      if (across > along * 1.8) return;
      var score = along + across * 2;
      if (score < bestScore) { bestScore = score; best = i; }
    });
    var along = function (x, y) { return (x - fx) * ux + (y - fy) * uy; };
    var across = function (x, y) { return (x - fx) * uy - (y - fy) * ux; };
    var need = this.sectionList.filter(function (sec) {
      if (sec.loaded || (sec.failed || 0) >= 2) return false;
      // The cone (along > eps, |across| <= 1.8 along) clipped out of the outline; the score is linear on either
      // side of the axis, so its least value there is at a corner of one of the two halves.
      var cone = clip(clip(clip(sec.poly, function (x, y) { return along(x, y) - eps; }),
        function (x, y) { return 1.8 * along(x, y) - across(x, y); }),
        function (x, y) { return 1.8 * along(x, y) + across(x, y); });
      var least = Infinity;
      [clip(cone, across), clip(cone, function (x, y) { return -across(x, y); })].forEach(function (half) {
        half.forEach(function (p) { least = Math.min(least, along(p[0], p[1]) + 2 * Math.abs(across(p[0], p[1]))); });
      });
      return least < bestScore;
    });
    if (!need.length) return Promise.resolve(best);
    return this.ensureAll(need).then(function () { return self.neighbour(from, ux, uy); });
  };

  // ---- describing seats --------------------------------------------------------------------------------

  SeatPicker.prototype.sectionNameOf = function (id) {
    var label = this.sectionLabels[id] || id;
    // A bare code ("A", "12") reads as "A区" / "Section A"; a name ("池座 Stalls") stays as it is.
    return /^[A-Za-z0-9]{1,4}$/.test(label) ? this.msg("section", { section: label }) : label;
  };

  SeatPicker.prototype.sectionName = function (i) { return this.sectionNameOf(this.sec[i]); };

  SeatPicker.prototype.label = function (i) {
    return this.msg("seat", { section: this.sectionName(i), row: this.row[i], number: this.num[i] });
  };

  SeatPicker.prototype.attrText = function (i) {
    var self = this, out = [];
    this.attrNames.forEach(function (name, k) {
      if (self.attr[i] & (1 << k)) out.push(self.msg("attr-" + name.replace(/_/g, "-")) || name);
    });
    return out;
  };

  SeatPicker.prototype.isSelected = function (i) {
    return this.selected.some(function (s) { return s.i === i; });
  };

  SeatPicker.prototype.describe = function (i) {
    var state = this.isSelected(i) ? this.msg("state-selected") : this.state[i] === FREE ? this.msg("state-free")
      : this.state[i] === BLOCKED ? this.msg("state-blocked") : this.msg("state-taken");
    var parts = [this.label(i), this.priceText(this.zoneOf[i])].concat(this.attrText(i));
    parts.push(state);
    return parts.filter(Boolean).join(this.zh ? "，" : ", ");
  };

  SeatPicker.prototype.say = function (text) {
    // Cleared first, so the same text twice is still announced.
    var live = this.live;
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 30);
  };

  SeatPicker.prototype.showAlert = function (text) {
    if (!this.alert) return;
    this.alert.textContent = text;
    this.alert.hidden = !text;
  };

  // ---- selection -----------------------------------------------------------------------------------------

  SeatPicker.prototype.toggle = function (i) {
    var at = -1;
    this.selected.forEach(function (s, k) { if (s.i === i) at = k; });
    if (at >= 0) {
      this.selected.splice(at, 1);
    } else {
      if (this.state[i] !== FREE) { this.say(this.describe(i)); this.paintOverlay(); return; }
      if (!this.inFilter(i)) { this.say(this.describe(i)); return; }
      if (this.selected.length >= this.max) {
        var text = this.plural("max", this.max, { max: this.max });
        this.say(text);
        this.showAlert(text);
        return;
      }
      var prices = this.zones[this.zoneOf[i]].prices;
      if (!prices.length) { this.say(this.msg("not-priced")); return; }
      this.selected.push({ i: i, tt: prices[0].ticket_type_id });
    }
    this.preview = [];
    this.showAlert("");
    this.say(this.describe(i));
    this.changed();
  };

  SeatPicker.prototype.changed = function () {
    if (this.refreshList) this.refreshList();
    this.paintOverlay();
    this.writeSummary();
    this.save();
  };

  SeatPicker.prototype.priceOf = function (s) {
    var p = this.zones[this.zoneOf[s.i]].prices.filter(function (x) { return x.ticket_type_id === s.tt; })[0];
    return p ? p.price_minor : 0;
  };

  SeatPicker.prototype.writeSummary = function () {
    var self = this;
    if (this.input) {
      this.input.value = this.selected.map(function (s) { return self.ids[s.i] + ":" + s.tt; }).join(",");
    }
    if (!this.summary) return;
    var list = this.summary.querySelector("[data-summary-list]");
    var empty = this.summary.querySelector("[data-summary-empty]");
    var count = this.summary.querySelector("[data-summary-count]");
    var total = document.querySelector("[data-total]");
    list.textContent = "";
    var sum = 0;
    this.selected.forEach(function (s, k) {
      var i = s.i, li = document.createElement("li");
      li.className = "sel-seat";
      var chip = document.createElement("span");
      chip.className = "sm-chip z" + self.zones[self.zoneOf[i]].k;
      chip.setAttribute("aria-hidden", "true");
      li.appendChild(chip);
      var info = document.createElement("div");
      info.className = "sel-info";
      var name = document.createElement("strong");
      name.className = "sel-label";
      name.textContent = self.label(i);
      info.appendChild(name);
      var attrs = self.attrText(i);
      if (attrs.length) {
        var a = document.createElement("span");
        a.className = "sel-attrs";
        a.textContent = attrs.join(" · ");
        info.appendChild(a);
      }
      li.appendChild(info);
      var prices = self.zones[self.zoneOf[i]].prices;
      if (prices.length > 1) {
        var sel = document.createElement("select");
        sel.className = "sel-type";
        sel.setAttribute("aria-label", self.msg("type-for", { seat: self.label(i) }));
        prices.forEach(function (p) {
          var o = document.createElement("option");
          o.value = p.ticket_type_id;
          o.textContent = p.name + " " + formatMoney(p.price_minor, self.symbol, self.digits);
          o.selected = p.ticket_type_id === s.tt;
          sel.appendChild(o);
        });
        sel.addEventListener("change", function () { self.selected[k].tt = sel.value; self.writeSummary(); self.save(); });
        li.appendChild(sel);
      } else {
        var t = document.createElement("span");
        t.className = "sel-type-name small muted";
        t.textContent = prices.length ? prices[0].name : "";
        li.appendChild(t);
      }
      var price = document.createElement("span");
      price.className = "sel-price num";
      price.textContent = formatMoney(self.priceOf(s), self.symbol, self.digits);
      li.appendChild(price);
      var rm = document.createElement("button");
      rm.type = "button";
      rm.className = "btn sel-remove";
      rm.setAttribute("aria-label", self.msg("remove", { seat: self.label(i) }));
      rm.textContent = "×";
      rm.addEventListener("click", function () { self.toggle(i); });
      li.appendChild(rm);
      list.appendChild(li);
      sum += self.priceOf(s);
    });
    if (empty) empty.hidden = this.selected.length > 0;
    // Said again before payment: how many of the chosen seats do not see the whole stage.
    var views = this.summary.querySelector("[data-summary-limited]");
    if (views) {
      var limitedBits = this.bit("restricted_view") | this.bit("partial_view");
      var nLimited = this.selected.filter(function (s) { return self.attr[s.i] & limitedBits; }).length;
      views.textContent = nLimited ? this.plural("limited-view", nLimited, { n: nLimited }) : "";
      views.hidden = !nLimited;
    }
    if (count) count.textContent = this.msg("count", { n: this.selected.length, max: this.max });
    if (total) total.textContent = formatMoney(sum, this.symbol, this.digits);
    this.root.dataset.selected = String(this.selected.length);
  };

  // The choice survives a reload and the page that comes back with a server-side error (sessionStorage, per
  // session page), so a refused order does not lose every other seat. Each seat is kept with its section, whose
  // seats are fetched to show it again.
  SeatPicker.prototype.storeKey = function () { return "seats:" + this.root.dataset.mapUrl; };

  SeatPicker.prototype.save = function () {
    var self = this;
    try {
      window.sessionStorage.setItem(this.storeKey(), JSON.stringify(this.selected.map(function (s) { return [self.ids[s.i], s.tt, self.sec[s.i]]; })));
    } catch (err) { /* private mode: the choice just does not survive a reload */ }
  };

  SeatPicker.prototype.restore = function () {
    var self = this, stored = [], sectionOf = {};
    var fromForm = this.input && this.input.value ? this.input.value.split(",").map(function (p) { return p.split(":"); }) : null;
    try { stored = JSON.parse(window.sessionStorage.getItem(this.storeKey()) || "[]"); } catch (err) { stored = []; }
    stored.forEach(function (s) { if (s[2]) sectionOf[s[0]] = s[2]; });
    var saved = fromForm || stored;
    this.writeSummary();
    if (!saved.length) return;
    // The sections of the seats to show; a seat whose section this page does not know (a choice posted without
    // the page's storage) is looked for in every section.
    var need = {};
    saved.forEach(function (pair) {
      var sec = self.sections[sectionOf[pair[0]]];
      if (sec) need[sec.id] = sec;
      else self.sectionList.forEach(function (s) { need[s.id] = s; });
    });
    this.ensureAll(Object.keys(need).map(function (id) { return need[id]; })).then(function () {
      saved.forEach(function (pair) {
        var i = self.byId[pair[0]];
        if (i === undefined || self.selected.length >= self.max || self.refused[pair[0]] || self.isSelected(i)) return;
        var ok = self.zones[self.zoneOf[i]].prices.some(function (p) { return p.ticket_type_id === pair[1]; });
        if (ok) self.selected.push({ i: i, tt: pair[1] });
      });
      self.changed();
    });
  };

  // ---- availability: a full picture once, then deltas ----------------------------------------------------

  SeatPicker.prototype.poll = function (first) {
    var self = this;
    var url = this.root.dataset.availabilityUrl + (this.version !== null ? "?since=" + encodeURIComponent(this.version) : "");
    return fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (body) { self.apply(body); self.failures = 0; })
      .catch(function () { self.failures = (self.failures || 0) + 1; })
      .then(function () {
        var wait = POLL_MS * Math.min(8, Math.pow(2, self.failures || 0));
        if (document.hidden) wait = Math.max(wait, 10000);
        self.timer = window.setTimeout(function () { self.poll(false); }, first ? POLL_MS : wait);
      });
  };

  SeatPicker.prototype.apply = function (body) {
    var changed = [], k, self = this;
    if (body.states !== undefined) {
      var fresh = decodeStates(body.states, this.n);
      if (!fresh) { this.setStatus(this.msg("load-failed"), true); return; } // the session's seats were replaced
      for (k = 0; k < this.n; k++) {
        if (this.state[k] !== fresh[k]) { this.state[k] = fresh[k]; changed.push(k); }
      }
    } else if (body.changes) {
      body.changes.forEach(function (c) {
        var o = c[0];
        if (o >= self.n) return;
        if (self.state[o] !== c[1]) { self.state[o] = c[1]; changed.push(o); }
      });
    }
    this.version = body.version;
    this.zoneCounts(body.zones || {});
    if (!changed.length) return;
    this.rev++;
    this.markSoldOut();
    if (this.refreshList) this.refreshList();
    // Seats this buyer chose that someone else just took: dropped from the choice and named on the page.
    var lost = this.selected.filter(function (s) { return self.state[s.i] !== FREE; });
    var lostPreview = this.preview.filter(function (p) { return self.state[p] !== FREE; });
    if (lost.length) {
      this.selected = this.selected.filter(function (s) { return self.state[s.i] === FREE; });
      var names = lost.map(function (s) { return self.label(s.i); }).join(this.zh ? "、" : ", ");
      var text = this.msg(lost.length > 1 ? "lost-many" : "lost-one", { seats: names });
      this.showAlert(text);
      this.say(text);
      this.changed();
    }
    if (lostPreview.length) {
      this.preview = [];
      this.bestState("lost");
    }
    this.render(true);
  };

  SeatPicker.prototype.zoneCounts = function (zones) {
    if (!this.legend) return;
    var self = this;
    this.legend.querySelectorAll("[data-zone]").forEach(function (li) {
      var z = zones[li.getAttribute("data-zone")];
      var span = li.querySelector(".legend-free");
      if (!z) return;
      if (!span) { span = document.createElement("span"); span.className = "legend-free small muted"; li.appendChild(span); }
      span.textContent = self.msg("free-count", { free: z.free, total: z.total });
      li.classList.toggle("is-sold-out", z.free <= 0);
    });
  };

  // ---- best available: ask, show the seats on the map, the buyer confirms ----------------------------------

  SeatPicker.prototype.bestForm = function (form) {
    var self = this;
    this.best = form;
    var zone = form.querySelector("[data-best-zone]");
    var qty = form.querySelector("[data-best-qty]");
    var ask = form.querySelector("[data-best-ask]");
    var take = form.querySelector("[data-best-take]");
    var cancel = form.querySelector("[data-best-cancel]");
    var out = form.querySelector("[data-best-result]");
    this.bestOut = out;
    this.bestButtons = [take, cancel];
    var fillZones = function () {
      if (!self.zoneList || zone.options.length > 1) return;
      self.zoneList.forEach(function (z) {
        if (!self.zones[z].prices.length) return;
        var o = document.createElement("option");
        o.value = z;
        o.textContent = self.msg("zone", { zone: z }) + " " + self.priceText(z);
        zone.appendChild(o);
      });
    };
    zone.addEventListener("focus", fillZones);
    this.fillZones = fillZones;
    ask.addEventListener("click", function () {
      fillZones();
      var n = parseInt(qty.value, 10) || 1;
      if (n > self.max) { self.bestState("error", self.plural("max", self.max, { max: self.max })); return; }
      var body = { quantity: n };
      if (zone.value) body.zone = zone.value;
      var split = form.querySelector("[data-best-split]");
      if (split && split.checked) body.split = true;
      var wheel = form.querySelector("[data-best-wheelchair]");
      if (wheel && wheel.checked) body.wheelchair = Math.min(n, 1);
      var limited = form.querySelector("[data-best-restricted]");
      if (limited && limited.checked) body.restricted = true;
      ask.setAttribute("aria-busy", "true");
      fetch(self.root.dataset.bestUrl, {
        method: "POST",
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify(body),
      }).then(function (r) {
        return r.json().then(function (b) { return { ok: r.ok, body: b }; });
      }).then(function (res) {
        ask.removeAttribute("aria-busy");
        if (!res.ok) {
          self.preview = [];
          self.paintOverlay();
          var code = res.body && res.body.code;
          var first = res.body && res.body.errors && res.body.errors[0];
          if (code === "validation_error" && first && first.code) code = first.code;
          self.bestState("error", self.msg("best-" + String(code || "").replace(/_/g, "-")) || (res.body && res.body.detail) || self.msg("best-failed"));
          return;
        }
        // Shown on the map: the sections of the seats proposed are fetched first.
        var wanted = {};
        res.body.seats.forEach(function (s) { if (self.sections[s.section]) wanted[s.section] = self.sections[s.section]; });
        return self.ensureAll(Object.keys(wanted).map(function (id) { return wanted[id]; })).then(function () {
          self.preview = res.body.seats.map(function (s) { return self.byId[s.id]; }).filter(function (i) { return i !== undefined; });
          if (!self.preview.length) { self.bestState("error", self.msg("best-not-enough-seats")); return; }
          self.showPreview();
        });
      }).catch(function () {
        ask.removeAttribute("aria-busy");
        self.bestState("error", self.msg("best-failed"));
      });
    });
    take.addEventListener("click", function () {
      var keep = self.preview.filter(function (i) { return self.state[i] === FREE; });
      if (!keep.length) return;
      self.selected = keep.slice(0, self.max).map(function (i) { return { i: i, tt: self.zones[self.zoneOf[i]].prices[0].ticket_type_id }; });
      self.preview = [];
      self.bestState("taken");
      self.showAlert("");
      self.changed();
      self.say(self.msg("best-chosen", { seats: self.selected.map(function (s) { return self.label(s.i); }).join(self.zh ? "、" : ", ") }));
      var summary = self.summary;
      if (summary) summary.scrollIntoView({ block: "nearest" });
    });
    cancel.addEventListener("click", function () { self.preview = []; self.bestState(""); self.paintOverlay(); });
  };

  SeatPicker.prototype.showPreview = function () {
    var self = this, xs = [], ys = [];
    this.preview.forEach(function (i) { xs.push(self.x[i]); ys.push(self.y[i]); });
    var p = this.pitch * 6;
    this.fitRect(Math.min.apply(null, xs) - p, Math.min.apply(null, ys) - p, Math.max.apply(null, xs) + p, Math.max.apply(null, ys) + p);
    this.view.s = Math.min(this.view.s, this.maxScale);
    this.clamp();
    this.render(true);
    // Attributes are said with the seat (a pillar seat must not come as a surprise after payment).
    var names = this.preview.map(function (i) {
      var attrs = self.attrText(i);
      return self.label(i) + (attrs.length ? (self.zh ? "（" + attrs.join("，") + "）" : " (" + attrs.join(", ") + ")") : "");
    }).join(this.zh ? "、" : "; ");
    var total = 0;
    this.preview.forEach(function (i) { var pr = self.zones[self.zoneOf[i]].prices; total += pr.length ? pr[0].price_minor : 0; });
    this.bestState("preview", this.msg("best-preview", { seats: names, total: formatMoney(total, this.symbol, this.digits) }));
  };

  SeatPicker.prototype.bestState = function (state, text) {
    if (!this.bestOut) return;
    var messages = { lost: this.msg("best-lost"), taken: "" };
    var t = text !== undefined ? text : messages[state] || "";
    this.bestOut.textContent = t;
    this.bestOut.hidden = !t;
    this.bestOut.className = "best-result" + (state === "error" || state === "lost" ? " is-error" : "");
    var show = state === "preview";
    this.bestButtons.forEach(function (b) { b.hidden = !show; });
    if (t) this.say(t);
  };

  // ---- the list equivalent: section → row → seat as native selects (screen readers, switch users) --------

  SeatPicker.prototype.listPicker = function () {
    var box = this.root.querySelector("[data-seat-list]");
    if (!box || !this.n) return;
    var self = this;
    var secSel = box.querySelector("[data-list-section]"), rowSel = box.querySelector("[data-list-row]");
    var seatSel = box.querySelector("[data-list-seat]"), add = box.querySelector("[data-list-add]");
    var rowsOf = function (sec) {
      // Row → its seats, rows in the order of their first seat (built once the section is loaded).
      if (!sec.rows) {
        sec.rows = { order: [], seats: {} };
        sec.seats.forEach(function (i) {
          if (!sec.rows.seats[self.row[i]]) { sec.rows.seats[self.row[i]] = []; sec.rows.order.push(self.row[i]); }
          sec.rows.seats[self.row[i]].push(i);
        });
      }
      return sec.rows;
    };
    var option = function (select, value, text, disabled) {
      var o = document.createElement("option");
      o.value = value; o.textContent = text; o.disabled = !!disabled;
      select.appendChild(o);
    };
    var current = function () { return self.sections[secSel.value]; };
    var fillSeats = function () {
      var keep = seatSel.value, sec = current();
      seatSel.textContent = "";
      if (!sec || !sec.loaded) return;
      (rowsOf(sec).seats[rowSel.value] || []).forEach(function (i) {
        var st = self.isSelected(i) ? self.msg("state-selected") : self.state[i] === FREE ? "" : self.state[i] === BLOCKED ? self.msg("state-blocked") : self.msg("state-taken");
        var extra = [self.priceText(self.zoneOf[i])].concat(self.attrText(i)).concat(st ? [st] : []);
        option(seatSel, String(i), self.msg("number", { number: self.num[i] }) + " · " + extra.join(" · "), self.state[i] !== FREE || !self.inFilter(i));
      });
      if (keep) seatSel.value = keep;
    };
    var fillRows = function () {
      // The section's seats are fetched when it is chosen here (the list opens on the first section).
      var sec = current();
      rowSel.textContent = "";
      seatSel.textContent = "";
      if (!sec) return;
      self.ensure(sec).then(function () {
        if (current() !== sec) return;
        rowSel.textContent = "";
        rowsOf(sec).order.forEach(function (r) { option(rowSel, r, self.msg("row", { row: r })); });
        fillSeats();
      }).catch(quietly);
    };
    this.sectionList.forEach(function (sec) { option(secSel, sec.id, self.sectionNameOf(sec.id)); });
    secSel.addEventListener("change", fillRows);
    rowSel.addEventListener("change", fillSeats);
    add.addEventListener("click", function () {
      var i = parseInt(seatSel.value, 10);
      if (isNaN(i)) return;
      if (!self.isSelected(i)) self.toggle(i);
      self.focus = i;
      self.centreOn(i, 26);
      fillSeats();
    });
    // Opened: its first section's seats (not fetched before: a big house's list costs nothing until used).
    box.addEventListener("toggle", function () { if (box.open && !rowSel.options.length) fillRows(); });
    if (box.open) fillRows();
    this.refreshList = function () { if (box.open) fillSeats(); };
  };

  function start() {
    document.querySelectorAll("[data-seatmap]").forEach(function (root) {
      if (!window.fetch || !window.atob) return; // the page says a modern browser is needed
      root.seatPicker = new SeatPicker(root);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
