// Progressive enhancement only: every page works without this file.
"use strict";

// "Copy" buttons copy the text of the element named by data-copy; without the
// Clipboard API (plain HTTP, old browsers) they select the text for Ctrl+C.
function selectText(el) {
  const range = document.createRange();
  range.selectNodeContents(el);
  const sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
}
function flashLabel(button, text) {
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  button.textContent = text;
  setTimeout(() => { button.textContent = label; }, 2000);
}
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const fallback = () => { selectText(source); flashLabel(button, "Selected: press Ctrl+C"); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(source.textContent).then(() => flashLabel(button, "Copied"), fallback);
  } else {
    fallback();
  }
});

// Times: local time instead of UTC, and relative texts that stay true while the page is open.
const UNITS = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
function ago(date) {
  const secs = Math.floor((Date.now() - date.getTime()) / 1000);
  if (secs < 10) return "just now";
  for (const [unit, size] of UNITS) {
    if (secs >= size) {
      const n = Math.floor(secs / size);
      return n + " " + unit + (n === 1 ? "" : "s") + " ago";
    }
  }
  return "just now";
}
function local(date) {
  return date.toLocaleString(undefined, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" });
}
function refreshTimes(root) {
  for (const el of (root || document).querySelectorAll("time[datetime]")) {
    const date = new Date(el.getAttribute("datetime"));
    if (isNaN(date)) continue;
    if (el.classList.contains("exact")) {
      el.textContent = local(date);
    } else {
      el.title = local(date);
      el.textContent = ago(date);
    }
  }
}
document.addEventListener("DOMContentLoaded", () => {
  refreshTimes();
  setInterval(refreshTimes, 10000);
});

// Job lists: rows of queued and running jobs update themselves (status, duration)
// until they end. Without this script the lists show the state when loaded.
function badge(job) {
  const span = document.createElement("span");
  span.className = "status status-" + job.status;
  span.textContent = job.status;
  if (!job.link) return span;
  const a = document.createElement("a");
  a.href = "/cache/jobs/" + job.uuid;
  a.appendChild(span);
  return a;
}
function showProgress(el, p) {
  let bar = el.querySelector("progress");
  if (p.total > 0) {
    if (!bar) { bar = document.createElement("progress"); el.prepend(bar, " "); }
    bar.max = p.total;
    bar.value = Math.min(p.done, p.total);
  } else if (bar) {
    bar.remove();
  }
  let text = el.querySelector(".progress-text");
  if (!text) { text = document.createElement("span"); text.className = "progress-text"; el.append(text); }
  text.classList.remove("muted");
  text.textContent = p.text;
}
function pollJobs() {
  const active = [...document.querySelectorAll("[data-job][data-active]")];
  if (active.length === 0) return;
  const ids = active.map((el) => el.dataset.job).join(",");
  fetch("/cache/jobs/live?ids=" + encodeURIComponent(ids), { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : { jobs: [] }))
    .then((data) => {
      for (const job of data.jobs) {
        for (const row of document.querySelectorAll('[data-job="' + job.uuid + '"]')) {
          const status = row.querySelector(".job-status") || row;
          const old = status.querySelector(".status");
          const holder = old && old.parentElement.tagName === "A" ? old.parentElement : old;
          if (holder) {
            const fresh = badge(job);
            const span = fresh.tagName === "A" ? fresh.firstChild : fresh;
            if (old.id) span.id = old.id;
            if (old.classList.contains("big")) span.classList.add("big");
            holder.replaceWith(fresh);
          }
          const duration = row.querySelector(".job-duration") || (row.dataset.reload ? document.querySelector(".job-duration") : null);
          if (duration) duration.textContent = job.duration;
          const progress = row.querySelector(".job-progress") || (row.dataset.reload ? document.getElementById("job-progress") : null);
          if (progress && job.progress) showProgress(progress, job.progress);
          if (!job.active) {
            delete row.dataset.active;
            // The job page shows the plugins' outcomes once the job has ended.
            if (row.dataset.reload) window.location.reload();
          }
        }
      }
    })
    .catch(() => {})
    .finally(() => setTimeout(pollJobs, 2000));
}
document.addEventListener("DOMContentLoaded", () => setTimeout(pollJobs, 2000));

// Item lists with checkboxes: "select all on this page", and the number selected on
// the button. Without this script the checkboxes work one by one.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("bulk-form");
  if (!form) return;
  const boxes = [...form.querySelectorAll('input[type=checkbox][name=item]')];
  const button = document.getElementById("delete-selected");
  const head = form.querySelector("th.check");
  const all = document.createElement("input");
  all.type = "checkbox";
  all.id = "select-all";
  all.setAttribute("aria-label", "Select every item on this page");
  if (head) { head.textContent = ""; head.appendChild(all); }
  const update = () => {
    const n = boxes.filter((b) => b.checked).length;
    button.textContent = n > 0 ? "Delete " + n + " selected…" : "Delete selected…";
    button.disabled = n === 0;
    all.checked = n === boxes.length && n > 0;
    all.indeterminate = n > 0 && n < boxes.length;
  };
  all.addEventListener("change", () => { for (const b of boxes) b.checked = all.checked; update(); });
  for (const b of boxes) b.addEventListener("change", update);
  update();
});

// The delete confirmation page: the sentence follows the chosen app.
document.addEventListener("DOMContentLoaded", () => {
  const select = document.getElementById("delete-app");
  const summary = document.getElementById("delete-summary");
  if (!select || !summary) return;
  const update = () => {
    const option = select.selectedOptions[0];
    const n = Number(option.dataset.count).toLocaleString("en-US");
    const items = option.dataset.count === "1" ? " item" : " items";
    summary.textContent = select.value
      ? "This deletes the " + n + items + " of app " + select.value + ". Plugins can write them again with a sync."
      : "This deletes all " + n + items + ". Plugins can write them again with a sync.";
  };
  select.addEventListener("change", update);
});

// The item page's JSON tree: expand all / collapse all, and a filter that shows only
// the entries whose key or value contains the text, with the path down to them.
// Without this script the tree is plain <details> elements that open one by one.
document.addEventListener("DOMContentLoaded", () => {
  const tree = document.getElementById("json-tree");
  const tools = document.getElementById("json-tools");
  if (!tree || !tools) return;
  tools.hidden = false;
  const filter = document.getElementById("json-filter");
  const matches = document.getElementById("json-matches");
  const items = [...tree.querySelectorAll("li")];
  const own = (li) => {
    // The entry's key and, for a plain value, the value (not its children's text).
    const summary = li.querySelector(":scope > details > summary");
    const head = summary || li;
    return [...head.children].filter((e) => e.matches(".key, .v-str, .v-num, .v-bool, .v-null, .raw")).map((e) => e.textContent).join(" ").toLowerCase();
  };
  const texts = items.map(own);
  const setOpen = (open) => { for (const d of tree.querySelectorAll("details")) d.open = open; };
  document.getElementById("json-expand").addEventListener("click", () => setOpen(true));
  document.getElementById("json-collapse").addEventListener("click", () => setOpen(false));
  const run = () => {
    const q = filter.value.trim().toLowerCase();
    for (const li of items) { li.hidden = !!q; li.classList.remove("hit"); }
    if (!q) { matches.textContent = ""; return; }
    let n = 0;
    items.forEach((li, i) => {
      if (li.classList.contains("more") || !texts[i].includes(q)) return;
      n += 1;
      li.classList.add("hit");
      li.hidden = false;
      // A matching container shows what it holds.
      for (const inner of li.querySelectorAll("li")) inner.hidden = false;
      for (let p = li.parentElement.closest("li"); p && tree.contains(p); p = p.parentElement.closest("li")) {
        p.hidden = false;
        const d = p.querySelector(":scope > details");
        if (d) d.open = true;
      }
    });
    const where = tree.hasAttribute("data-cut") ? " in the part shown" : "";
    matches.textContent = n === 0 ? "No key or value matches" + where + "." : n.toLocaleString("en-US") + (n === 1 ? " match" : " matches") + where + ".";
  };
  let timer = null;
  filter.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(run, 150); });
});
