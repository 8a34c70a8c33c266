import { useCallback, useEffect, useState } from 'preact/hooks';
import type { Delivery, Webhook, WebhookWithSecret } from './coffer-api.js';
import { ConfirmDialog } from './confirm-dialog.js';
import { CopyButton } from './copy-button.js';
import { ErrorNotice, Loading, StatusNotice } from './notices.js';
import { useSession } from './session-context.js';
import { formatInstant } from './time-format.js';

/** The change kinds a webhook can send (docs/notifications.md). */
const KINDS: readonly { name: string; help: string }[] = [
  { name: 'secret.created', help: 'a secret was created' },
  { name: 'secret.value-set', help: 'a secret got a new value (its version)' },
  { name: 'secret.metadata-changed', help: 'description, scopes or validity changed' },
  { name: 'secret.deleted', help: 'a secret was deleted' },
  { name: 'store.created', help: 'a store was created' },
  { name: 'store.deleted', help: 'a store was deleted' },
  { name: 'apikey.created', help: 'an API key was created' },
  { name: 'apikey.changed', help: 'an API key was enabled, disabled or given other permissions' },
  { name: 'apikey.deleted', help: 'an API key was deleted' },
];

/** Webhooks of the tenant (admins only), their signing secrets shown once, and their delivery logs. */
export function WebhooksScreen() {
  const { api, fail } = useSession();
  const [hooks, setHooks] = useState<readonly Webhook[] | null>(null);
  const [loading, setLoading] = useState(true);
  const [listError, setListError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState('');
  const [url, setUrl] = useState('');
  const [stores, setStores] = useState('');
  const [chosen, setChosen] = useState<ReadonlySet<string>>(new Set(['secret.value-set']));
  const [creating, setCreating] = useState(false);
  const [shown, setShown] = useState<WebhookWithSecret | null>(null);
  const [deleting, setDeleting] = useState<Webhook | null>(null);
  const [deleteBusy, setDeleteBusy] = useState(false);
  const [logOf, setLogOf] = useState<Webhook | null>(null);
  const [log, setLog] = useState<readonly Delivery[] | null>(null);

  const load = useCallback(() => {
    setLoading(true);
    api.listWebhooks().then(
      (list) => {
        setHooks(list.items);
        setListError(null);
        setLoading(false);
      },
      (e: unknown) => {
        setListError(fail(e));
        setLoading(false);
      },
    );
  }, [api, fail]);
  useEffect(load, [load]);

  const showLog = useCallback(
    (hook: Webhook) => {
      setLogOf(hook);
      setLog(null);
      api.listDeliveries(hook.id).then(
        (page) => setLog(page.items),
        (e: unknown) => setError(fail(e)),
      );
    },
    [api, fail],
  );

  const toggle = (kind: string, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(kind);
    else next.delete(kind);
    setChosen(next);
  };

  const create = async (event: Event) => {
    event.preventDefault();
    if (chosen.size === 0) {
      setError('Choose at least one kind of change to send.');
      return;
    }
    setCreating(true);
    setError(null);
    try {
      const storeList = stores
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const hook = await api.createWebhook({
        url: url.trim(),
        eventKinds: KINDS.map((k) => k.name).filter((k) => chosen.has(k)),
        stores: storeList,
      });
      setShown(hook);
      setUrl('');
      setDone(`Webhook to ${hook.url} created.`);
      load();
    } catch (e) {
      setError(fail(e));
    } finally {
      setCreating(false);
    }
  };

  const rotate = async (hook: Webhook) => {
    setError(null);
    try {
      const rotated = await api.rotateWebhookSecret(hook.id);
      setShown(rotated);
      setDone(`New signing secret for ${hook.url}.`);
      load();
    } catch (e) {
      setError(fail(e));
    }
  };

  const confirmDelete = async () => {
    if (deleting === null) return;
    setDeleteBusy(true);
    setError(null);
    try {
      await api.deleteWebhook(deleting.id);
      setDone(`Webhook to ${deleting.url} deleted.`);
      if (logOf?.id === deleting.id) setLogOf(null);
      load();
    } catch (e) {
      setError(fail(e));
    } finally {
      setDeleteBusy(false);
      setDeleting(null);
    }
  };

  return (
    <>
      <h1 tabIndex={-1}>Webhooks</h1>
      <p class="lead">
        Signed notifications of this tenant's changes (names, versions and times; never values), sent as
        Standard Webhooks. Only admin keys manage them.
      </p>
      <ErrorNotice message={error} />
      <StatusNotice>{done}</StatusNotice>

      {shown !== null && (
        <section class="card token-once" aria-labelledby="secret-once-title">
          <h2 id="secret-once-title">Signing secret of the webhook to {shown.url}</h2>
          <p>
            <strong>Copy it now: it is shown only this once.</strong> Coffer keeps it encrypted and never
            shows it again; give it to your receiver to verify deliveries.
          </p>
          <div class="value-row">
            <code class="value-shown" data-testid="new-webhook-secret">
              {shown.secret}
            </code>
            <CopyButton text={shown.secret} label="Copy secret" />
          </div>
          <button type="button" onClick={() => setShown(null)}>
            I have stored it, hide the secret
          </button>
        </section>
      )}

      <section aria-labelledby="new-webhook-title" class="card">
        <h2 id="new-webhook-title">New webhook</h2>
        <form onSubmit={create} class="stack">
          <div class="field">
            <label for="new-webhook-url">Receiver URL</label>
            <input
              id="new-webhook-url"
              type="url"
              value={url}
              onInput={(e) => setUrl(e.currentTarget.value)}
              required
              maxLength={2048}
              aria-describedby="new-webhook-url-help"
              autoComplete="off"
              spellcheck={false}
            />
            <span id="new-webhook-url-help" class="help">
              https (or http); no credentials; not a private or loopback address unless the server allows it.
            </span>
          </div>
          <div class="field">
            <label for="new-webhook-stores">Stores (optional)</label>
            <input
              id="new-webhook-stores"
              value={stores}
              onInput={(e) => setStores(e.currentTarget.value)}
              aria-describedby="new-webhook-stores-help"
              autoComplete="off"
              spellcheck={false}
            />
            <span id="new-webhook-stores-help" class="help">
              Comma-separated store names; empty: every store, and key changes.
            </span>
          </div>
          <fieldset>
            <legend>Changes to send</legend>
            <ul class="checks">
              {KINDS.map((kind) => (
                <li key={kind.name}>
                  <label class="check">
                    <input
                      type="checkbox"
                      name="event-kind"
                      value={kind.name}
                      checked={chosen.has(kind.name)}
                      onChange={(e) => toggle(kind.name, e.currentTarget.checked)}
                    />{' '}
                    <code>{kind.name}</code> <span class="help">{kind.help}</span>
                  </label>
                </li>
              ))}
            </ul>
          </fieldset>
          <div class="actions">
            <button type="submit" class="primary" disabled={creating}>
              {creating ? 'Creating…' : 'Create webhook'}
            </button>
          </div>
        </form>
      </section>

      <section aria-labelledby="webhooks-list-title">
        <h2 id="webhooks-list-title">Webhooks</h2>
        <ErrorNotice message={listError} />
        {loading && <Loading what="webhooks" />}
        {hooks !== null && hooks.length === 0 && <p class="empty">No webhooks.</p>}
        {hooks !== null && hooks.length > 0 && (
          <table class="table" aria-busy={loading}>
            <caption class="visually-hidden">Webhooks, oldest first; secrets are never listed</caption>
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Changes</th>
                <th scope="col">Stores</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {hooks.map((hook) => (
                <tr key={hook.id}>
                  <td data-label="URL">
                    <code>{hook.url}</code>
                  </td>
                  <td data-label="Changes">
                    {hook.eventKinds.map((k) => (
                      <code key={k} class="perm">
                        {k}
                      </code>
                    ))}
                  </td>
                  <td data-label="Stores">{hook.stores.length === 0 ? 'all' : hook.stores.join(', ')}</td>
                  <td data-label="Actions" class="row-actions">
                    <button
                      type="button"
                      onClick={() => showLog(hook)}
                      aria-label={`Delivery log of ${hook.url}`}
                    >
                      Delivery log
                    </button>
                    <button
                      type="button"
                      onClick={() => void rotate(hook)}
                      aria-label={`New secret for ${hook.url}`}
                    >
                      New secret
                    </button>
                    <button
                      type="button"
                      class="danger-quiet"
                      onClick={() => setDeleting(hook)}
                      aria-label={`Delete webhook to ${hook.url}`}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      {logOf !== null && (
        <section aria-labelledby="delivery-log-title">
          <h2 id="delivery-log-title">Delivery log of {logOf.url}</h2>
          <button type="button" onClick={() => showLog(logOf)}>
            Refresh
          </button>
          {log === null && <Loading what="deliveries" />}
          {log !== null && log.length === 0 && <p class="empty">Nothing sent yet.</p>}
          {log !== null && log.length > 0 && (
            <table class="table" data-testid="delivery-log">
              <caption class="visually-hidden">Deliveries, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Change</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Last error</th>
                  <th scope="col">Next attempt</th>
                </tr>
              </thead>
              <tbody>
                {log.map((d) => (
                  <tr key={d.n}>
                    <td data-label="#">{d.n}</td>
                    <td data-label="Change">
                      <code>{d.kind}</code>
                    </td>
                    <td data-label="Status">
                      <span
                        class={`badge ${d.status === 'delivered' ? 'badge-valid' : d.status === 'failed' ? 'badge-disabled' : ''}`}
                      >
                        {d.status}
                      </span>
                    </td>
                    <td data-label="Attempts">{d.attempts}</td>
                    <td data-label="Last error">{d.lastError ?? '—'}</td>
                    <td data-label="Next attempt">{formatInstant(d.nextAttemptAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      )}

      <ConfirmDialog
        open={deleting !== null}
        title="Delete this webhook?"
        confirmLabel="Delete webhook"
        busy={deleteBusy}
        onConfirm={() => void confirmDelete()}
        onCancel={() => setDeleting(null)}
      >
        <p>Nothing more is sent to {deleting?.url ?? ''}, and its delivery log is deleted.</p>
      </ConfirmDialog>
    </>
  );
}
