// tether ui: live updates, step details on a click, and one submit per form.
// Everything shown comes from the server already escaped; this script never builds
// markup from data.
"use strict";

const POLL_MS = 2000;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function fetchText(url) {
  const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) throw new Error(`${response.status} ${url}`);
  return response.text();
}

function setLive(ok) {
  const badge = document.getElementById("live-state");
  if (!badge) return;
  badge.classList.toggle("offline", !ok);
  badge.textContent = ok ? "live" : "offline";
}

async function followRunList(table) {
  for (;;) {
    await sleep(POLL_MS);
    try {
      const state = JSON.parse(await fetchText(table.dataset.poll));
      setLive(true);
      if (state.fingerprint === table.dataset.fingerprint) continue;
      const rows = await fetchText(table.dataset.fragment);
      document.getElementById("run-rows").innerHTML = rows;
      table.dataset.fingerprint = state.fingerprint;
    } catch (err) {
      setLive(false);
    }
  }
}

function typing() {
  const el = document.activeElement;
  return el && (el.tagName === "TEXTAREA" || el.tagName === "INPUT");
}

async function followRun(page) {
  for (;;) {
    await sleep(POLL_MS);
    try {
      const state = JSON.parse(await fetchText(page.dataset.poll));
      const changed =
        String(state.events) !== page.dataset.events ||
        state.status !== page.dataset.status ||
        (state.busy ? "1" : "0") !== page.dataset.busy;
      if (changed && !typing()) {
        // the run's own page, also after a form's answer was shown at the form's URL
        window.location.replace(page.dataset.url + window.location.hash);
        return;
      }
    } catch (err) {
      // the viewer may be restarting: try again at the next tick
    }
  }
}

async function showStep(page, row) {
  const detail = document.getElementById("detail");
  for (const other of document.querySelectorAll(".bar-row.selected")) {
    other.classList.remove("selected");
  }
  row.classList.add("selected");
  if (window.location.pathname === page.dataset.url) {
    history.replaceState(null, "", `#step-${row.dataset.step}`);
  }
  try {
    detail.innerHTML = await fetchText(`${page.dataset.url}/steps/${row.dataset.step}`);
  } catch (err) {
    detail.textContent = `Could not load this step (${err.message}).`;
  }
}

function wireRunPage(page) {
  for (const row of document.querySelectorAll(".bar-row")) {
    row.addEventListener("click", () => showStep(page, row));
  }
  const wanted = /^#step-(\d+)$/.exec(window.location.hash);
  if (wanted) {
    const row = document.querySelector(`.bar-row[data-step="${wanted[1]}"]`);
    if (row) showStep(page, row);
  }
  for (const link of document.querySelectorAll(".ev-link")) {
    link.addEventListener("click", () => {
      document.getElementById("journal").open = true;
    });
  }
  followRun(page);
}

function oneSubmitPerForm() {
  for (const form of document.querySelectorAll("form[method=post]")) {
    form.addEventListener("submit", () => {
      for (const button of form.querySelectorAll("button")) button.disabled = true;
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  oneSubmitPerForm();
  const table = document.querySelector("table.runs[data-poll]");
  if (table) followRunList(table);
  const page = document.querySelector(".run-page[data-poll]");
  if (page) wireRunPage(page);
});
