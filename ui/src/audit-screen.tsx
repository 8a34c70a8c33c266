import { useState } from 'preact/hooks';
import { checkLinks } from './audit-chain-check.js';
import { ApiError, type AuditFilter } from './coffer-api.js';
import { ErrorNotice, Loading } from './notices.js';
import { Pager } from './pager.js';
import { useSession } from './session-context.js';
import { formatInstant, fromLocalInput } from './time-format.js';
import { usePagedList } from './use-paged-list.js';

const PAGE_SIZE = 25;

interface FilterDraft {
  action: string;
  actor: string;
  since: string;
  until: string;
}

const NO_FILTER: FilterDraft = { action: '', actor: '', since: '', until: '' };

function filterOf(draft: FilterDraft): AuditFilter {
  const since = fromLocalInput(draft.since);
  const until = fromLocalInput(draft.until);
  return {
    ...(draft.action.trim() === '' ? {} : { action: draft.action.trim() }),
    ...(draft.actor.trim() === '' ? {} : { actor: draft.actor.trim() }),
    ...(since === null ? {} : { since }),
    ...(until === null ? {} : { until }),
  };
}

/** A server without the audit route answers Coffer's generic 404 for an unknown endpoint. */
function isMissingRoute(error: unknown): boolean {
  return error instanceof ApiError && error.status === 404 && error.code === 'route_not_found';
}

const OUTCOME_LABEL = { allowed: 'Allowed', denied: 'Denied', error: 'Error' } as const;

export function AuditScreen() {
  const { api, fail } = useSession();
  const [draft, setDraft] = useState<FilterDraft>(NO_FILTER);
  const [filter, setFilter] = useState<AuditFilter>({});
  const [draftError, setDraftError] = useState<string | null>(null);

  const list = usePagedList(async (cursor) => {
    const page = await api.listAudit({ ...filter, cursor, limit: PAGE_SIZE });
    return { items: page.events, nextCursor: page.nextCursor };
  }, JSON.stringify(filter));
  const missing = isMissingRoute(list.error);
  const listError = list.error === null || missing ? null : fail(list.error);
  const set = (patch: Partial<FilterDraft>) => setDraft({ ...draft, ...patch });
  const links = list.items === null ? null : checkLinks(list.items);

  const apply = (event: Event) => {
    event.preventDefault();
    try {
      setFilter(filterOf(draft));
      setDraftError(null);
    } catch (e) {
      setDraftError(e instanceof Error ? e.message : String(e));
    }
  };

  if (missing) {
    return (
      <>
        <h1 tabIndex={-1}>Audit trail</h1>
        <p class="notice notice-status" role="status">
          The audit trail is not available on this server: it does not offer{' '}
          <code>/api/&#123;tenant&#125;/audit</code> (an older Coffer).
        </p>
      </>
    );
  }

  return (
    <>
      <h1 tabIndex={-1}>Audit trail</h1>
      <p class="lead">
        Who did what in this tenant, newest first: every reveal, write, key change and refusal. Values and
        tokens are never recorded.
      </p>

      <section aria-labelledby="chain-title" class="card">
        <h2 id="chain-title">Chain verification</h2>
        <p>
          Events form a hash chain, so a removed or altered event breaks it.{' '}
          {links?.kind === 'consistent' && (
            <span class="badge badge-valid">
              This page links correctly ({links.links} {links.links === 1 ? 'link' : 'links'} checked)
            </span>
          )}
          {links?.kind === 'broken' && (
            <span class="badge badge-expired">
              Broken link between events #{links.olderSeq} and #{links.newerSeq}
            </span>
          )}
        </p>
        <p class="help">
          The console checks the links between the events it shows. To verify the whole chain, recomputing
          every hash, run <code>coffer audit verify</code> on the server.
        </p>
      </section>

      <section aria-labelledby="audit-filter-title">
        <h2 id="audit-filter-title">Filter</h2>
        <form class="filters" onSubmit={apply} aria-labelledby="audit-filter-title">
          <div class="field">
            <label for="audit-action">Action</label>
            <input
              id="audit-action"
              value={draft.action}
              onInput={(e) => set({ action: e.currentTarget.value })}
              placeholder="secret.reveal"
              autoComplete="off"
            />
          </div>
          <div class="field">
            <label for="audit-actor">Actor</label>
            <input
              id="audit-actor"
              value={draft.actor}
              onInput={(e) => set({ actor: e.currentTarget.value })}
              placeholder="key:admin"
              autoComplete="off"
            />
          </div>
          <div class="field">
            <label for="audit-since">From (local time)</label>
            <input
              id="audit-since"
              type="datetime-local"
              value={draft.since}
              onInput={(e) => set({ since: e.currentTarget.value })}
            />
          </div>
          <div class="field">
            <label for="audit-until">Until (local time)</label>
            <input
              id="audit-until"
              type="datetime-local"
              value={draft.until}
              onInput={(e) => set({ until: e.currentTarget.value })}
            />
          </div>
          <div class="actions">
            <button type="submit" class="primary">
              Apply filter
            </button>
            <button
              type="button"
              onClick={() => {
                setDraft(NO_FILTER);
                setFilter({});
                setDraftError(null);
              }}
            >
              Clear
            </button>
          </div>
        </form>
        <ErrorNotice message={draftError} />
      </section>

      <section aria-labelledby="audit-events-title">
        <h2 id="audit-events-title">Events</h2>
        <ErrorNotice message={listError} />
        {list.loading && <Loading what="events" />}
        {list.items !== null && list.items.length === 0 && !list.loading && (
          <p class="empty">No events match.</p>
        )}
        {list.items !== null && list.items.length > 0 && (
          <table class="table audit" aria-busy={list.loading}>
            <caption class="visually-hidden">Audit events, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Resource</th>
                <th scope="col">Outcome</th>
                <th scope="col">Request id</th>
                <th scope="col">Client</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((event, i) => (
                <tr key={event.seq ?? `${event.time}-${i}`}>
                  <td data-label="Time">
                    {formatInstant(event.time)}
                    {event.seq !== undefined && <span class="help"> #{event.seq}</span>}
                  </td>
                  <td data-label="Actor">
                    <code>{event.actor}</code>
                  </td>
                  <td data-label="Action">
                    <code>{event.action}</code>
                  </td>
                  <td data-label="Resource" class="wrap">
                    {event.resource}
                  </td>
                  <td data-label="Outcome">
                    <span class={`badge badge-outcome-${event.outcome}`}>
                      {OUTCOME_LABEL[event.outcome] ?? event.outcome}
                    </span>
                    {event.reason !== null && event.reason !== undefined && (
                      <span class="help"> {event.reason}</span>
                    )}
                  </td>
                  <td data-label="Request id" class="wrap">
                    <code>{event.requestId ?? ''}</code>
                  </td>
                  <td data-label="Client">{event.clientAddress ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <Pager
          label="Audit pages"
          page={list.page}
          hasPrevious={list.hasPrevious}
          hasNext={list.hasNext}
          previousLabel="Newer events"
          nextLabel="Older events"
          onPrevious={list.previous}
          onNext={list.next}
        />
      </section>
    </>
  );
}
