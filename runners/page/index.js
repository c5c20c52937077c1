// The positions page: the reconciled positions, refreshed whenever trueup stores an event
// (the live event stream; a poll while it cannot be had), and the chosen position's audit.
(function () {
  "use strict";
  const body = document.querySelector("#positions tbody");
  const live = document.getElementById("live");
  const section = document.getElementById("audit");
  let chosen = null; // {venue, account, symbol, position_idx}
  let stream = null;
  let poll = null;

  const keyOf = (row) => `${row.venue}/${row.account}/${row.symbol}/${row.position_idx}`;

  async function json(url) {
    const reply = await fetch(url, { headers: { Accept: "application/json" } });
    if (!reply.ok) throw new Error(`${url}: HTTP ${reply.status}`);
    return reply.json();
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  // Decimals come as strings: shown as they are, "-" where trueup cannot know them.
  const shown = (value) => (value === null || value === undefined ? "-" : String(value));
  const percent = (fraction) =>
    fraction === null || fraction === undefined ? "-" : `${(Number(fraction) * 100).toFixed(2)}%`;

  // Whose figure it is, on hover: the venue's own where trueup has not folded the fills
  // that opened the position.
  function unrealisedCell(pnl) {
    const td = cell(shown(pnl && pnl.unrealised_pnl), "num unrealised");
    if (pnl && pnl.unrealised_source === "venue") {
      td.classList.add("venue");
      td.title = "the venue's own figure, from its last report of the position";
    }
    return td;
  }

  const PENDING = /^[A-Z_]+_PENDING /;

  function show(rows) {
    body.replaceChildren();
    for (const row of rows) {
      const tr = document.createElement("tr");
      tr.dataset.key = keyOf(row);
      // A finding still within its grace (DRIFT_PENDING, UNTRACKED_PENDING, CLOSE_PENDING) is
      // not yet claimed: shown, but not as an alarm.
      const claimed = row.findings.filter((finding) => !PENDING.test(finding));
      if (claimed.length) tr.classList.add("finding");
      else if (row.findings.length) tr.classList.add("pending");
      if (row.risk && (row.risk.high || row.risk.near_liquidation)) tr.classList.add("risky");
      if (chosen && keyOf(chosen) === tr.dataset.key) tr.classList.add("chosen");
      tr.append(
        cell(`${row.venue}/${row.account}`),
        cell(row.symbol),
        cell(String(row.position_idx)),
        cell(row.local_qty, "qty local"),
        cell(row.exchange_qty, "qty exchange"),
        unrealisedCell(row.pnl),
        cell(shown(row.pnl && row.pnl.realised_pnl), "num realised"),
        cell(shown(row.risk && row.risk.leverage), "num leverage"),
        cell(percent(row.risk && row.risk.liquidation_distance), "num liquidation"),
        cell(shown(row.risk && row.risk.score), "num score"),
        cell(row.findings.join("; ") || "OK", "findings"),
      );
      tr.addEventListener("click", () => choose(row));
      body.appendChild(tr);
    }
    body.dataset.rows = String(rows.length);
  }

  let running = false;
  let again = false;
  let cursor = 0;

  async function refresh() {
    // One refresh at a time: events that come meanwhile make one more, not one each.
    if (running) {
      again = true;
      return cursor;
    }
    running = true;
    try {
      do {
        again = false;
        const doc = await json("/v1/positions");
        cursor = doc.cursor;
        show(doc.positions);
        if (chosen) await audit(chosen);
      } while (again);
    } finally {
      running = false;
    }
    return cursor;
  }

  async function audit(key) {
    const query = new URLSearchParams({
      venue: key.venue,
      account: key.account,
      symbol: key.symbol,
      position_idx: String(key.position_idx),
    });
    const [doc, said] = await Promise.all([
      json(`/v1/audit?${query}`),
      json(`/v1/emitted?${query}`),
    ]);
    section.hidden = false;
    trueupAudit.render(section, doc, said.events);
  }

  function choose(row) {
    chosen = row;
    for (const tr of body.children) tr.classList.toggle("chosen", tr.dataset.key === keyOf(row));
    audit(row).catch(unreachable);
  }

  // Since when trueup has not answered (null: it answers): the rows shown are as of then,
  // and say so, rather than pass for live ones.
  let unreachableSince = null;

  function unreachable(error) {
    unreachableSince = unreachableSince || new Date();
    body.classList.add("stale");
    live.textContent =
      `trueup unreachable since ${unreachableSince.toISOString()}: the rows are as of then ` +
      `(${error.message})`;
  }

  function reachedAgain() {
    if (!unreachableSince) return;
    unreachableSince = null;
    body.classList.remove("stale");
    live.textContent = poll ? "polling (no live stream)" : "live";
  }

  function refreshed() {
    return refresh().then(reachedAgain, unreachable);
  }

  function polling() {
    if (poll) return;
    if (!unreachableSince) live.textContent = "polling (no live stream)";
    poll = setInterval(refreshed, 500);
  }

  function follow(cursor) {
    if (!window.EventSource) return polling();
    stream = new EventSource(`/v1/events?after=${cursor}`);
    stream.onopen = () => {
      if (poll) clearInterval(poll), (poll = null);
      if (!unreachableSince) live.textContent = "live";
      refreshed();
    };
    stream.onmessage = () => refreshed();
    // Each event comes named by its type: listen for every type there is.
    for (const type of window.trueupEventTypes || []) stream.addEventListener(type, () => refreshed());
    stream.addEventListener("error", () => {
      // The browser reconnects on its own, resuming from the last event's id; until then a
      // poll keeps the table honest.
      if (stream.readyState === EventSource.CLOSED) stream = null;
      polling();
    });
  }

  refresh()
    .then((at) => follow(at ?? 0))
    .catch((error) => {
      live.textContent = String(error);
      document.body.dataset.error = String(error);
    });
})();
