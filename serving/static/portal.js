// The portal: builds the form from the service's own OpenAPI schema (one source for ranges, units
// and categories: creditrisk/applicants/schema.py), posts to /predict, and shows the decision or, for a 422,
// each field's error next to the field. No framework, no CDN. Each field's `x-source` says who
// supplies it: the applicant, the bank's own systems (grouped apart and said so), or the server
// (loan_percent_income: not asked at all).
"use strict";

const LABELS = {
  person_age: "Age (years)",
  person_income: "Annual income",
  person_home_ownership: "Home ownership",
  person_emp_length: "Employment length (years)",
  loan_intent: "Purpose of the loan",
  loan_grade: "Loan grade",
  loan_amnt: "Loan amount",
  loan_int_rate: "Interest rate (% per year)",
  cb_person_default_on_file: "Previous default on file",
  cb_person_cred_hist_length: "Credit history (years)",
};
const CHOICE_TEXT = { Y: "Yes", N: "No", DEBTCONSOLIDATION: "Debt consolidation", HOMEIMPROVEMENT: "Home improvement" };

const BANK_NOTE = "In production the bank fills these from its own systems: the loan grade and the " +
  "interest rate from its pricing of this loan, the previous default from the credit bureau file. " +
  "An applicant's own answer must never be used for them; this demo portal lets you type them.";

let schema = null;   // Applicant properties the form asks for, $refs resolved
let example = null;  // the realistic example from the OpenAPI document

const $ = (id) => document.getElementById(id);

function resolve(doc, prop) {
  if (!prop.$ref) return prop;
  const { $ref, ...own } = prop;  // the property's own description and x-source, over the enum's
  return { ...doc.components.schemas[$ref.split("/").pop()], ...own };
}

function rangeText(p) {
  const low = p.minimum !== undefined ? `${p.minimum}` : `more than ${p.exclusiveMinimum}`;
  return `${low} to ${p.maximum.toLocaleString("en")}`;
}

function buildField(name, p) {
  const wrap = document.createElement("div");
  wrap.className = "field";
  wrap.dataset.field = name;
  const label = document.createElement("label");
  label.htmlFor = `f-${name}`;
  label.textContent = LABELS[name] || name;
  let input;
  if (p.enum) {
    input = document.createElement("select");
    input.append(new Option("Choose…", ""));
    for (const v of p.enum) input.append(new Option(CHOICE_TEXT[v] || v.charAt(0) + v.slice(1).toLowerCase(), v));
  } else {
    input = document.createElement("input");
    input.type = "number";
    input.inputMode = "decimal";
    input.step = p.type === "integer" ? "1" : "any";
    if (p.minimum !== undefined) input.min = p.minimum;
    input.max = p.maximum;
  }
  input.id = `f-${name}`;
  input.name = name;
  const hint = document.createElement("small");
  hint.className = "hint";
  hint.id = `h-${name}`;
  const unit = ((p.description || "").match(/\((.*)\)$/) || ["", ""])[1];  // "(units)" of the rule text
  const source = p["x-source"] === "bank" ? (p.description.match(/^Bank-supplied: ([^,]*)/) || ["", ""])[1] : "";
  const allowed = p.enum ? "" : `Allowed: ${rangeText(p)}${unit ? ` (${unit})` : ""}`;
  hint.textContent = [source && `From the bank: ${source}.`, allowed].filter(Boolean).join(" ");
  const error = document.createElement("small");
  error.className = "error";
  error.id = `e-${name}`;
  input.setAttribute("aria-describedby", `h-${name} e-${name}`);
  input.addEventListener("input", () => onInput(name, input, p, hint));
  wrap.append(label, input, hint, error);
  return wrap;
}

function onInput(name, input, p, hint) {
  setError(name, "");
  if (!p.enum && input.value !== "") {  // client-side hint only: the server's rules decide
    const v = Number(input.value);
    const low = p.minimum !== undefined ? v < p.minimum : v <= p.exclusiveMinimum;
    hint.classList.toggle("warn", low || v > p.maximum);
  }
}

function setError(name, text) {
  const el = $(`e-${name}`), input = $(`f-${name}`);
  if (!el) return false;
  el.textContent = text;
  input.setAttribute("aria-invalid", text ? "true" : "false");
  return true;
}

function readForm() {
  const body = {};
  for (const [name, p] of Object.entries(schema)) {
    const raw = $(`f-${name}`).value.trim();
    if (raw === "") continue;  // missing: the server names it
    body[name] = p.enum ? raw : (Number.isFinite(Number(raw)) ? Number(raw) : raw);
  }
  return body;
}

function showDecision(r) {
  const box = $("result");
  const denied = r.prediction === 1;
  box.className = denied ? "denied" : "approved";
  box.replaceChildren();
  const h = document.createElement("h2");
  h.id = "decision";
  h.dataset.decision = r.decision;
  h.textContent = denied ? "Denied" : "Pre-approved";
  box.append(h);  // no score: an anonymous answer carries the decision and its reasons only
  if (r.reasons.length) {
    const intro = document.createElement("p");
    intro.textContent = "The main reasons for this decision:";
    const list = document.createElement("ol");
    list.id = "reasons";
    for (const reason of r.reasons) list.append(Object.assign(document.createElement("li"), { textContent: reason.text }));
    box.append(intro, list);
  }
  const meta = document.createElement("p");
  meta.className = "meta";
  meta.textContent = `Reference ${r.request_id} · model ${r.model.name} version ${r.model.version}`;
  box.append(meta);
  box.hidden = false;
}

async function submit(event) {
  event.preventDefault();
  for (const name of Object.keys(schema)) setError(name, "");
  $("form-error").hidden = true;
  $("result").hidden = true;
  $("submit").disabled = true;
  try {
    const resp = await fetch("predict", { method: "POST", headers: { "Content-Type": "application/json" },
                                           body: JSON.stringify(readForm()) });
    const data = await resp.json().catch(() => ({}));
    if (resp.ok) return showDecision(data);
    if (resp.status === 422 && Array.isArray(data.detail)) {
      const unplaced = data.detail.filter((e) => !setError(e.field, `${e.message}. Rule: ${e.rule}.`));
      if (unplaced.length) showFormError(unplaced.map((e) => `${e.field}: ${e.message}`).join("; "));
      const first = data.detail.find((e) => $(`f-${e.field}`));
      if (first) $(`f-${first.field}`).focus();
      return;
    }
    showFormError(data.message || `The service answered ${resp.status}.`);
  } catch (err) {
    showFormError("The service could not be reached. Please try again.");
  } finally {
    $("submit").disabled = false;
  }
}

function showFormError(text) {
  $("form-error").textContent = text;
  $("form-error").hidden = false;
}

function fillExample() {
  if (!example) return;
  for (const [name, value] of Object.entries(example)) if ($(`f-${name}`)) $(`f-${name}`).value = value;
}

function bankGroup(fields) {
  const group = document.createElement("fieldset");
  group.id = "bank-fields";
  const legend = document.createElement("legend");
  legend.textContent = "From the bank's systems";
  const note = document.createElement("p");
  note.id = "bank-note";
  note.className = "hint";
  note.textContent = BANK_NOTE;
  const grid = document.createElement("div");
  grid.className = "fields";
  grid.append(...fields);
  group.append(legend, note, grid);
  return group;
}

async function init() {
  const doc = await (await fetch("openapi.json")).json();
  const applicant = doc.components.schemas.Applicant;
  schema = Object.fromEntries(Object.entries(applicant.properties).map(([k, v]) => [k, resolve(doc, v)])
    .filter(([, p]) => p["x-source"] !== "server"));  // computed by the server: never asked
  const examples = doc.paths["/predict"].post.requestBody.content["application/json"].examples || {};
  example = (examples.denied || {}).value || (applicant.examples || [])[0] || null;
  const fields = $("fields"), entries = Object.entries(schema);
  fields.replaceChildren(...entries.filter(([, p]) => p["x-source"] !== "bank").map(([n, p]) => buildField(n, p)));
  fields.after(bankGroup(entries.filter(([, p]) => p["x-source"] === "bank").map(([n, p]) => buildField(n, p))));
  fields.removeAttribute("aria-busy");
  $("application").addEventListener("submit", submit);
  $("example").addEventListener("click", fillExample);
  document.body.dataset.ready = "true";
}

init().catch((err) => {
  console.error(err);
  showFormError("The form could not be loaded.");
});
