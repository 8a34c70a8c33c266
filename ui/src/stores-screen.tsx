import { useState } from 'preact/hooks';
import type { Store } from './coffer-api.js';
import { ConfirmDialog } from './confirm-dialog.js';
import { ErrorNotice, Loading, StatusNotice } from './notices.js';
import { Pager } from './pager.js';
import { PrefixSearch } from './prefix-search.js';
import { hrefOf, onLinkClick } from './router.js';
import { useSession } from './session-context.js';
import { formatInstant } from './time-format.js';
import { usePagedList } from './use-paged-list.js';

const PAGE_SIZE = 20;

export function StoresScreen() {
  const { api, fail } = useSession();
  const [prefix, setPrefix] = useState('');
  const [newName, setNewName] = useState('');
  const [creating, setCreating] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState('');
  const [deleting, setDeleting] = useState<Store | null>(null);
  const [force, setForce] = useState(false);
  const [busy, setBusy] = useState(false);

  const list = usePagedList((cursor) => api.listStores({ prefix, cursor, limit: PAGE_SIZE }), prefix);
  const listError = list.error === null ? null : fail(list.error);

  const create = async (event: Event) => {
    event.preventDefault();
    setCreating(true);
    setError(null);
    try {
      const store = await api.createStore(newName.trim());
      setNewName('');
      setDone(`Store ${store.name} created.`);
      list.reload();
    } catch (e) {
      setError(fail(e));
    } finally {
      setCreating(false);
    }
  };

  const confirmDelete = async () => {
    if (deleting === null) return;
    setBusy(true);
    setError(null);
    try {
      await api.deleteStore(deleting.id, force);
      setDone(`Store ${deleting.name} deleted.`);
      list.reload();
    } catch (e) {
      setError(fail(e));
    } finally {
      setBusy(false);
      setDeleting(null);
      setForce(false);
    }
  };

  return (
    <>
      <h1 tabIndex={-1}>Stores</h1>
      <p class="lead">A store holds secrets. Open one to list, create, reveal and edit its secrets.</p>
      <ErrorNotice message={error} />
      <StatusNotice>{done}</StatusNotice>

      <section aria-labelledby="new-store-title" class="card">
        <h2 id="new-store-title">New store</h2>
        <form onSubmit={create} class="inline-form">
          <div class="field">
            <label for="new-store-name">Store name</label>
            <input
              id="new-store-name"
              value={newName}
              onInput={(e) => setNewName(e.currentTarget.value)}
              required
              maxLength={255}
              aria-describedby="new-store-help"
              autoComplete="off"
            />
            <span id="new-store-help" class="help">
              A letter or digit, then letters, digits, <code>.</code> <code>_</code> <code>-</code>{' '}
              <code>/</code>.
            </span>
          </div>
          <button type="submit" class="primary" disabled={creating}>
            {creating ? 'Creating…' : 'Create store'}
          </button>
        </form>
      </section>

      <section aria-labelledby="stores-list-title">
        <h2 id="stores-list-title">All stores</h2>
        <PrefixSearch id="stores-search" onSearch={setPrefix} />
        <ErrorNotice message={listError} />
        {list.loading && <Loading what="stores" />}
        {list.items !== null && list.items.length === 0 && !list.loading && (
          <p class="empty">{prefix === '' ? 'No stores yet.' : `No store name starts with “${prefix}”.`}</p>
        )}
        {list.items !== null && list.items.length > 0 && (
          <table class="table" aria-busy={list.loading}>
            <caption class="visually-hidden">Stores, by name</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">Updated</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((store) => (
                <tr key={store.id}>
                  <td data-label="Name">
                    <a href={hrefOf({ screen: 'store', storeId: store.id })} onClick={onLinkClick}>
                      {store.name}
                    </a>
                  </td>
                  <td data-label="Created">{formatInstant(store.createdAt)}</td>
                  <td data-label="Updated">{formatInstant(store.updatedAt)}</td>
                  <td data-label="Actions" class="row-actions">
                    <button
                      type="button"
                      class="danger-quiet"
                      onClick={() => setDeleting(store)}
                      aria-label={`Delete store ${store.name}`}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <Pager
          label="Stores pages"
          page={list.page}
          hasPrevious={list.hasPrevious}
          hasNext={list.hasNext}
          onPrevious={list.previous}
          onNext={list.next}
        />
      </section>

      <ConfirmDialog
        open={deleting !== null}
        title={`Delete store ${deleting?.name ?? ''}?`}
        confirmLabel="Delete store"
        busy={busy}
        onConfirm={() => void confirmDelete()}
        onCancel={() => {
          setDeleting(null);
          setForce(false);
        }}
      >
        <p>The store is removed for every API that sees it. This cannot be undone.</p>
        <label class="check">
          <input type="checkbox" checked={force} onChange={(e) => setForce(e.currentTarget.checked)} /> Also
          delete its secrets and all their versions
        </label>
      </ConfirmDialog>
    </>
  );
}
