// The portal: builds the form from the service's own OpenAPI schema (one source for ranges, units
// and categories: creditrisk/applicants/schema.py), posts to /predict, and shows the decision or, for a 422,
// each field's error next to the field. No framework, no CDN.
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
  loan_percent_income: "Loan / income (fraction)",
  cb_person_default_on_file: "Previous default on file",
  cb_person_cred_hist_length: "Credit history (years)",
};
const CHOICE_TEXT = { Y: "Yes", N: "No", DEBTCONSOLIDATION: "Debt consolidation", HOMEIMPROVEMENT: "Home improvement" };

let schema = null;   // Applicant properties, $refs resolved
let example = null;  // the realistic example from the OpenAPI document
let lpiTouched = false;

const $ = (id) => document.getElementById(id);

function resolve(doc, prop) {
  if (!prop.$ref) return prop;
  return doc.components.schemas[prop.$ref.split("/").pop()];
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
  hint.textContent = p.enum ? "" : `Allowed: ${rangeText(p)}${unit ? ` (${unit})` : ""}`;
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
  if (name === "loan_percent_income") lpiTouched = true;
  if (!p.enum && input.value !== "") {  // client-side hint only: the server's rules decide
    const v = Number(input.value);
    const low = p.minimum !== undefined ? v < p.minimum : v <= p.exclusiveMinimum;
    hint.classList.toggle("warn", low || v > p.maximum);
  }
  if ((name === "loan_amnt" || name === "person_income") && !lpiTouched) {
    const amount = Number($("f-loan_amnt").value), income = Number($("f-person_income").value);
    if (amount > 0 && income > 0) $("f-loan_percent_income").value = (amount / income).toFixed(2);
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
  const p = document.createElement("p");
  p.id = "probability";
  p.textContent = `Estimated probability of default: ${(100 * r.probability_of_default).toFixed(1)}% ` +
    `(applications at or above ${(100 * r.threshold).toFixed(0)}% are denied).`;
  box.append(h, p);
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
  lpiTouched = true;
}

async function init() {
  const doc = await (await fetch("openapi.json")).json();
  const applicant = doc.components.schemas.Applicant;
  schema = Object.fromEntries(Object.entries(applicant.properties).map(([k, v]) => [k, resolve(doc, v)]));
  const examples = doc.paths["/predict"].post.requestBody.content["application/json"].examples || {};
  example = (examples.denied || {}).value || (applicant.examples || [])[0] || null;
  const fields = $("fields");
  fields.replaceChildren(...Object.entries(schema).map(([name, p]) => buildField(name, p)));
  fields.removeAttribute("aria-busy");
  $("application").addEventListener("submit", submit);
  $("example").addEventListener("click", fillExample);
  document.body.dataset.ready = "true";
}

init().catch((err) => {
  console.error(err);
  showFormError("The form could not be loaded.");
});
