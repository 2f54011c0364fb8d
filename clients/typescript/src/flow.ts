// A frontend's first steps against edugrid, written only with the client generated from openapi.json:
// sign in, read who the caller is and their leads, record a lead and a payment. scripts/apilint.sh
// regenerates the types (src/edugrid.d.ts) and compiles this file with tsc, so a change to the document that
// would break such a frontend (a renamed field, a narrowed enum, a new required parameter) fails CI.
import createClient from "openapi-fetch";
import type { components, paths } from "./edugrid";

type Problem = components["schemas"]["Problem"];
type Lead = components["schemas"]["Lead"];
type Source = components["schemas"]["NewLead"]["source"];

/** The API's answer to a refused request: its stable code and what to show. */
export class APIError extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.code}: ${problem.detail}`);
  }
}

function must<T>(result: { data?: T; error?: Problem }): T {
  if (result.error !== undefined) throw new APIError(result.error);
  if (result.data === undefined) throw new Error("empty answer");
  return result.data;
}

export async function signIn(baseUrl: string, tenant: string, email: string, password: string) {
  const api = createClient<paths>({ baseUrl });
  const tokens = must(await api.POST("/auth/login", { body: { tenant, email, password } }));
  const authed = createClient<paths>({ baseUrl, headers: { Authorization: `${tokens.token_type} ${tokens.access_token}` } });
  return { api: authed, refreshToken: tokens.refresh_token, expiresIn: tokens.expires_in };
}

export async function counsellorDay(baseUrl: string) {
  const { api } = await signIn(baseUrl, "sunrise-academy", "asha.rao@example.edu", "correct-horse-battery-staple");

  // A read: the caller, then the leads in one stage, page by page.
  const me = must(await api.GET("/auth/me"));
  const role: "owner" | "counsellor" | string = me.role;
  const open: Lead[] = [];
  let cursor: string | undefined;
  do {
    const page = must(await api.GET("/leads", { params: { query: { stage: "contacted", limit: 100, cursor } } }));
    open.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);

  // A write: a walk-in enquiry for the caller's first branch.
  const source: Source = "walk_in";
  const branch = me.branches[0] ?? open[0]?.branch_id;
  if (branch === undefined) return { role, open, created: undefined };
  const created = must(await api.POST("/leads", { body: { branch_id: branch, name: "Ravi Kumar", phone: "+919812345678", source } }));

  // A write that must not happen twice: the Idempotency-Key makes a retry answer 200 with the same receipt.
  const key = `pay-${created.id}`;
  const pay = () =>
    api.POST("/fees/payments", {
      params: { header: { "Idempotency-Key": key } },
      body: { student_id: created.id, amount: 1500000, method: "cash", paid_on: "2026-06-01" },
    });
  const first = await pay();
  const retry = first.response.status >= 500 ? await pay() : first;
  const receipt = must(retry).receipt_no;
  return { role, open, created, receipt };
}
