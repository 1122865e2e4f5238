#!/usr/bin/env node
// tools/xero_spec_cut.js SPEC.yaml OUT.json: a copy of Xero's accounting spec (shared/specs/xero/
// xero_accounting.yaml) that Prism can serve and validate (docs/push-xero.md, "Contract test").
//
// Prism 5.14 does not validate request bodies against Xero's whole schema graph (every invalid
// POST /Invoices passes) and answers GET /Invoices in ~2.5 s (apis.md section 6.1): the cause is the
// graph's cycles through the back-references between Invoice, CreditNote, Payment, Allocation,
// Overpayment and Prepayment. This script cuts exactly those: in each of the six schemas, a property
// that refers to one of the six, or to a schema that leads back to them (Payment.BatchPayment), becomes
// an untyped object (or array of objects), so those cycles go and every other schema stays as
// published. It then checks that no cycle through them is left (exit 1
// if one is)
// and writes the spec as JSON. Node.js with js-yaml, the YAML parser the pinned npm tools bring
// (tools/npm: Python's standard library has no YAML parser).
'use strict';
const fs = require('fs');
const path = require('path');
const yaml = require(path.join(__dirname, 'npm', 'node_modules', 'js-yaml'));

const CYCLE = ['Invoice', 'CreditNote', 'Payment', 'Allocation', 'Overpayment', 'Prepayment'];
const PREFIX = '#/components/schemas/';

function refName(node) {
    return node && typeof node.$ref === 'string' && node.$ref.startsWith(PREFIX) ? node.$ref.slice(PREFIX.length) : null;
}

// Cuts the back-references among the six; returns what was cut ("Invoice.Payments", ...).
function cut(schemas) {
    const cuts = [];
    for (const name of CYCLE) {
        const props = (schemas[name] || {}).properties || {};
        for (const [prop, def] of Object.entries(props)) {
            const direct = refName(def);
            const item = def && def.type === 'array' ? refName(def.items) : null;
            if (CYCLE.includes(direct)) {
                props[prop] = {type: 'object', description: `${direct} (cut by tools/xero_spec_cut.js)`};
                cuts.push(`${name}.${prop}`);
            } else if (CYCLE.includes(item)) {
                props[prop] = {type: 'array', items: {type: 'object'}, description: `${item}[] (cut by tools/xero_spec_cut.js)`};
                cuts.push(`${name}.${prop}[]`);
            }
        }
    }
    return cuts;
}

// The schema names a node refers to, anywhere inside it.
function refsOf(node, out) {
    if (Array.isArray(node)) node.forEach(n => refsOf(n, out));
    else if (node && typeof node === 'object') {
        const r = refName(node);
        if (r) out.add(r);
        for (const v of Object.values(node)) refsOf(v, out);
    }
    return out;
}

// A cycle through one of the six left in the schema graph, as a list of names, or null. Other
// cycles (Contact <-> ContactGroup, ...) are left as published: Prism validates those (apis.md 6.1).
function findCycle(schemas) {
    const edges = {};
    for (const [name, def] of Object.entries(schemas)) edges[name] = [...refsOf(def, new Set())];
    for (const start of CYCLE) {
        const seen = new Set();
        const todo = [[start, [start]]];
        while (todo.length) {
            const [n, trail] = todo.pop();
            for (const m of edges[n] || []) {
                if (m === start) return trail.concat(m);
                if (!seen.has(m)) {
                    seen.add(m);
                    todo.push([m, trail.concat(m)]);
                }
            }
        }
    }
    return null;
}

function main() {
    const [spec, out] = process.argv.slice(2);
    if (!spec || !out) {
        console.error('usage: xero_spec_cut.js SPEC.yaml OUT.json');
        process.exit(2);
    }
    const doc = yaml.load(fs.readFileSync(spec, 'utf8'));
    const schemas = doc.components.schemas;
    const cuts = cut(schemas);
    // a longer cycle back into the six (Payment -> BatchPayment -> Payment): its first edge is cut too
    for (let left = findCycle(schemas); left; left = findCycle(schemas)) {
        const props = (schemas[left[0]] || {}).properties || {};
        const prop = Object.keys(props).find(p => refsOf(props[p], new Set()).has(left[1]));
        if (!prop) {
            console.error(`xero_spec_cut: a schema cycle is left: ${left.join(' -> ')}`);
            process.exit(1);
        }
        props[prop] = props[prop].type === 'array'
            ? {type: 'array', items: {type: 'object'}, description: `${left[1]}[] (cut by tools/xero_spec_cut.js)`}
            : {type: 'object', description: `${left[1]} (cut by tools/xero_spec_cut.js)`};
        cuts.push(`${left[0]}.${prop}`);
    }
    fs.writeFileSync(out, JSON.stringify(doc));
    console.log(`xero_spec_cut: cut ${cuts.length} back-references (${cuts.join(', ')}); no cycle through ${CYCLE.join(', ')} left`);
}

main();
