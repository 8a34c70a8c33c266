import { useCallback, useEffect, useState } from 'preact/hooks';
import type { ApiKey, CreatedApiKey } from './coffer-api.js';
import { ConfirmDialog } from './confirm-dialog.js';
import { CopyButton } from './copy-button.js';
import { ErrorNotice, Loading, StatusNotice } from './notices.js';
import { PERMISSION_CHOICES } from './permission-choices.js';
import { useSession } from './session-context.js';

export function ApiKeysScreen() {
  const { api, fail } = useSession();
  const [keys, setKeys] = useState<readonly ApiKey[] | null>(null);
  const [loading, setLoading] = useState(true);
  const [listError, setListError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState('');
  const [name, setName] = useState('');
  const [chosen, setChosen] = useState<ReadonlySet<string>>(new Set(['secrets:read']));
  const [enabled, setEnabled] = useState(true);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [toggling, setToggling] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<ApiKey | null>(null);
  const [deleteBusy, setDeleteBusy] = useState(false);

  const load = useCallback(() => {
    setLoading(true);
    api.listApiKeys().then(
      (list) => {
        setKeys(list);
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

  const toggle = (permission: string, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(permission);
    else next.delete(permission);
    setChosen(next);
  };

  const create = async (event: Event) => {
    event.preventDefault();
    if (chosen.size === 0) {
      setError('Choose at least one permission: a key without any can do nothing.');
      return;
    }
    setCreating(true);
    setError(null);
    try {
      // In the order of the canonical list, whatever order they were ticked in.
      const permissions = PERMISSION_CHOICES.map((c) => c.name).filter((p) => chosen.has(p));
      const key = await api.createApiKey(name.trim(), permissions, enabled);
      setCreated(key);
      setName('');
      setDone(`Key ${key.name} created.`);
      load();
    } catch (e) {
      setError(fail(e));
    } finally {
      setCreating(false);
    }
  };

  const setKeyEnabled = async (key: ApiKey, on: boolean) => {
    setToggling(key.name);
    setError(null);
    try {
      await api.setApiKeyEnabled(key.name, on);
      setDone(`Key ${key.name} ${on ? 'enabled' : 'disabled'}.`);
      load();
    } catch (e) {
      setError(fail(e));
    } finally {
      setToggling(null);
    }
  };

  const confirmDelete = async () => {
    if (deleting === null) return;
    setDeleteBusy(true);
    setError(null);
    try {
      await api.deleteApiKey(deleting.name);
      setDone(`Key ${deleting.name} deleted.`);
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
      <h1 tabIndex={-1}>API keys</h1>
      <p class="lead">
        Keys of this tenant. A key can only grant, or manage keys holding, permissions it holds itself.
      </p>
      <ErrorNotice message={error} />
      <StatusNotice>{done}</StatusNotice>

      {created !== null && (
        <section class="card token-once" aria-labelledby="token-once-title">
          <h2 id="token-once-title">Token of key {created.name}</h2>
          <p>
            <strong>Copy it now: it is shown only this once.</strong> Coffer keeps only its hash.
          </p>
          <div class="value-row">
            <code class="value-shown" data-testid="new-token">
              {created.token}
            </code>
            <CopyButton text={created.token} label="Copy token" />
          </div>
          <button type="button" onClick={() => setCreated(null)}>
            I have stored it, hide the token
          </button>
        </section>
      )}

      <section aria-labelledby="new-key-title" class="card">
        <h2 id="new-key-title">New key</h2>
        <form onSubmit={create} class="stack">
          <div class="field">
            <label for="new-key-name">Key name</label>
            <input
              id="new-key-name"
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
              required
              maxLength={64}
              pattern="[A-Za-z0-9._\-]+"
              aria-describedby="new-key-name-help"
              autoComplete="off"
              spellcheck={false}
            />
            <span id="new-key-name-help" class="help">
              1-64 of A-Z, a-z, 0-9, <code>.</code> <code>-</code> <code>_</code>.
            </span>
          </div>
          <fieldset>
            <legend>Permissions</legend>
            <ul class="checks">
              {PERMISSION_CHOICES.map((choice) => (
                <li key={choice.name}>
                  <label class="check">
                    <input
                      type="checkbox"
                      name="permission"
                      value={choice.name}
                      checked={chosen.has(choice.name)}
                      onChange={(e) => toggle(choice.name, e.currentTarget.checked)}
                    />{' '}
                    <code>{choice.name}</code> <span class="help">{choice.help}</span>
                  </label>
                </li>
              ))}
            </ul>
          </fieldset>
          <label class="check">
            <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />{' '}
            Enabled (works at once)
          </label>
          <div class="actions">
            <button type="submit" class="primary" disabled={creating}>
              {creating ? 'Creating…' : 'Create key'}
            </button>
          </div>
        </form>
      </section>

      <section aria-labelledby="keys-list-title">
        <h2 id="keys-list-title">Keys</h2>
        <ErrorNotice message={listError} />
        {loading && <Loading what="keys" />}
        {keys !== null && keys.length === 0 && <p class="empty">No keys.</p>}
        {keys !== null && keys.length > 0 && (
          <table class="table" aria-busy={loading}>
            <caption class="visually-hidden">API keys, by name; tokens are never listed</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Permissions</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.map((key) => (
                <tr key={key.name}>
                  <td data-label="Name">{key.name}</td>
                  <td data-label="Status">
                    <span class={`badge ${key.enabled ? 'badge-valid' : 'badge-disabled'}`}>
                      {key.enabled ? 'Enabled' : 'Disabled'}
                    </span>
                  </td>
                  <td data-label="Permissions">
                    {key.permissions.length === 0 ? (
                      <span class="help">none</span>
                    ) : (
                      key.permissions.map((p) => (
                        <code key={p} class="perm">
                          {p}
                        </code>
                      ))
                    )}
                  </td>
                  <td data-label="Actions" class="row-actions">
                    <button
                      type="button"
                      onClick={() => void setKeyEnabled(key, !key.enabled)}
                      disabled={toggling === key.name}
                      aria-label={`${key.enabled ? 'Disable' : 'Enable'} key ${key.name}`}
                    >
                      {key.enabled ? 'Disable' : 'Enable'}
                    </button>
                    <button
                      type="button"
                      class="danger-quiet"
                      onClick={() => setDeleting(key)}
                      aria-label={`Delete key ${key.name}`}
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

      <ConfirmDialog
        open={deleting !== null}
        title={`Delete key ${deleting?.name ?? ''}?`}
        confirmLabel="Delete key"
        busy={deleteBusy}
        onConfirm={() => void confirmDelete()}
        onCancel={() => setDeleting(null)}
      >
        <p>Anything using this key loses access at once. This cannot be undone.</p>
      </ConfirmDialog>
    </>
  );
}
