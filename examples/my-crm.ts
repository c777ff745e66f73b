// A stand-in for your sink, for examples/quick-start.ts: it prints what it would store. Replace
// it with your CRM's client; make the write idempotent (an upsert by outreachId), because a
// message can come twice (docs/delivery-guarantees.md).
import type { Outreach } from 'civitas-outreach';

/** Stores one outreach (here: prints its id and how many students it reached). */
export async function upsert(outreach: Outreach): Promise<void> {
  await Promise.resolve();
  console.log(`upserted ${outreach.outreachId} (${outreach.students.length} student(s))`);
}
