// The audit chart: local and exchange quantity over time (steps), what trueup said as one
// marker per emitted event, and each input's detail on hover. trueupAudit.render(root, ...)
// fills the [data-part] elements inside root; a page with #audit-data renders it at once.
(function () {
  "use strict";
  const iso = (ms) => new Date(ms).toISOString();
  const qty = (side) => (side === null || side === undefined ? null : Number(side.qty));
  const said = (e) =>
    e.exit_reason ||
    e.reason ||
    e.status ||
    (e.until ? "until " + iso(e.until) : "") ||
    (e.filled_qty ? `filled ${e.filled_qty}` + (e.avg_price ? ` @ ${e.avg_price}` : "") : "") ||
    (e.qty ? `qty ${e.qty}` : "");

  // One slot per instant's inputs and one per emitted event (a hair after them), so each
  // event has a marker of its own even when several share an instant.
  function slotsOf(audit, emitted) {
    const instants = new Map();
    const at = (ms) => {
      if (!instants.has(ms)) instants.set(ms, { inputs: [], emitted: [] });
      return instants.get(ms);
    };
    audit.timeline.forEach((input) => at(input.at).inputs.push(input));
    emitted.forEach((event) => at(event.at).emitted.push(event));
    const slots = [];
    for (const ms of [...instants.keys()].sort((a, b) => a - b)) {
      const here = instants.get(ms);
      if (here.inputs.length) slots.push({ ms: ms, x: ms / 1000, inputs: here.inputs, said: null });
      here.emitted.forEach((event, i) =>
        slots.push({ ms: ms, x: (ms + 0.001 * (i + 1)) / 1000, inputs: [], said: event }),
      );
    }
    return slots;
  }

  function describe(slot) {
    const lines = [iso(slot.ms)];
    for (const input of slot.inputs) {
      const ex = input.state.exchange;
      lines.push(
        `${input.type}${input.source ? " (" + input.source + ")" : ""} ${input.input_id}`,
        `  local ${input.state.local.qty}` +
          (ex ? ` | exchange ${ex.side} ${ex.size}` : " | exchange never seen") +
          (input.state.open_orders.length ? ` | ${input.state.open_orders.length} open orders` : ""),
      );
      // The reconciler's own closes on that input (the exchange closed what the bot held).
      for (const close of input.closed_by || []) {
        lines.push(`  closed ${close.position_id} by ${close.type}: ${said(close)}`);
      }
      // Closes the inputs dated by the instant audited add up to, but trueup never emitted.
      for (const close of input.closes_not_emitted || []) {
        lines.push(`  closes ${close.position_id}, never emitted: ${close.type}: ${said(close)}`);
      }
    }
    if (slot.said) lines.push(`trueup said ${slot.said.type}: ${said(slot.said)}`);
    return lines.join("\n");
  }

  function row(cells, cls) {
    const tr = document.createElement("tr");
    if (cls) tr.className = cls;
    for (const text of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    return tr;
  }

  function render(root, audit, emitted) {
    const part = (name) => root.querySelector(`[data-part="${name}"]`);
    part("title").textContent =
      `${audit.venue}/${audit.account} ${audit.symbol} (idx ${audit.position_idx})`;
    part("subtitle").textContent =
      `${audit.timeline.length} inputs, ${emitted.length} emitted events` +
      (audit.as_of === null ? "" : `, as of ${iso(audit.as_of)}`);

    const slots = slotsOf(audit, emitted);
    const xs = [], local = [], exchange = [], markers = [];
    let lastLocal = null, lastExchange = null;
    for (const slot of slots) {
      const input = slot.inputs[slot.inputs.length - 1];
      if (input) {
        lastLocal = Number(input.state.local.qty);
        lastExchange = qty(input.state.exchange);
      }
      xs.push(slot.x);
      local.push(lastLocal);
      exchange.push(lastExchange);
      markers.push(slot.said ? (lastExchange ?? lastLocal ?? 0) : null);
    }

    const chart = part("chart");
    if (chart.plot) chart.plot.destroy();
    chart.dataset.ready = "0";
    const detail = part("detail");
    detail.textContent = "Hover the chart for each input's detail.";
    const stepped = () => uPlot.paths.stepped({ align: 1 });
    chart.plot = new uPlot(
      {
        width: Math.max(480, chart.clientWidth || 900),
        height: 320,
        scales: { x: { time: true } },
        tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
        series: [
          {},
          { label: "local", stroke: "#2f6fdb", width: 3, paths: stepped(), points: { show: false } },
          {
            label: "exchange",
            stroke: "#d2553b",
            width: 2,
            dash: [6, 4],
            paths: stepped(),
            points: { show: false },
          },
          {
            label: "trueup said",
            stroke: "#b7791f",
            fill: "#f6c453",
            paths: () => null,
            points: { show: true, size: 11, width: 2 },
          },
        ],
        hooks: {
          setCursor: [
            (u) => {
              if (u.cursor.idx !== null && u.cursor.idx !== undefined) {
                detail.textContent = describe(slots[u.cursor.idx]);
              }
            },
          ],
        },
      },
      [xs, local, exchange, markers],
      chart,
    );
    chart.dataset.markers = String(markers.filter((m) => m !== null).length);
    chart.dataset.ready = "1";

    const saidRows = part("emitted");
    saidRows.replaceChildren();
    for (const event of emitted) {
      saidRows.appendChild(row([iso(event.at), event.type, said(event)], "emitted"));
    }
    const inputRows = part("inputs");
    inputRows.replaceChildren();
    for (const input of audit.timeline) {
      const ex = input.state.exchange;
      inputRows.appendChild(
        row([
          iso(input.at),
          input.type,
          input.source || "",
          input.state.local.qty,
          ex ? `${ex.side} ${ex.size}` : "never seen",
        ]),
      );
    }
  }

  window.trueupAudit = { render: render, iso: iso };
  window.addEventListener("error", (e) => {
    document.body.dataset.error = String(e.message);
  });
  const embedded = document.getElementById("audit-data");
  if (embedded) {
    const { audit, emitted } = JSON.parse(embedded.textContent);
    render(document.getElementById("audit"), audit, emitted);
  }
})();
