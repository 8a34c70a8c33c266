import { useEffect, useState } from 'preact/hooks';
import type { Secret, Store } from './coffer-api.js';
import { ErrorNotice, Loading, StatusNotice } from './notices.js';
import { NewSecretForm } from './new-secret-form.js';
import { Pager } from './pager.js';
import { PrefixSearch } from './prefix-search.js';
import { hrefOf, onLinkClick } from './router.js';
import { SecretDetails } from './secret-details.js';
import { useSession } from './session-context.js';
import { formatInstant } from './time-format.js';
import { usePagedList } from './use-paged-list.js';
import { ValidityBadge } from './validity-badge.js';

const PAGE_SIZE = 20;

/** One store: its secrets (metadata only), a form for a new one, and the selected secret's details. */
export function StoreScreen({ storeId }: { storeId: string }) {
  const { api, fail } = useSession();
  const [store, setStore] = useState<Store | null>(null);
  const [storeError, setStoreError] = useState<string | null>(null);
  const [prefix, setPrefix] = useState('');
  const [adding, setAdding] = useState(false);
  const [selected, setSelected] = useState<Secret | null>(null);
  const [done, setDone] = useState('');

  useEffect(() => {
    api.getStore(storeId).then(setStore, (e: unknown) => setStoreError(fail(e)));
  }, [api, storeId, fail]);

  const list = usePagedList(
    (cursor) => api.listSecrets(storeId, { prefix, cursor, limit: PAGE_SIZE }),
    prefix,
  );
  const listError = list.error === null ? null : fail(list.error);
  const name = store?.name ?? '…';

  return (
    <>
      <p class="breadcrumb">
        <a href={hrefOf({ screen: 'stores' })} onClick={onLinkClick}>
          Stores
        </a>{' '}
        <span aria-hidden="true">/</span> {name}
      </p>
      <h1 tabIndex={-1}>Store {name}</h1>
      <ErrorNotice message={storeError} />
      <StatusNotice>{done}</StatusNotice>

      <section aria-labelledby="new-secret-title" class="card">
        <h2 id="new-secret-title">New secret</h2>
        {adding ? (
          <NewSecretForm
            storeId={storeId}
            onCancel={() => setAdding(false)}
            onCreated={(secret) => {
              setAdding(false);
              setDone(`Secret ${secret.name} created.`);
              setSelected(secret);
              list.reload();
            }}
          />
        ) : (
          <button type="button" class="primary" onClick={() => setAdding(true)}>
            Add a secret
          </button>
        )}
      </section>

      <section aria-labelledby="secrets-list-title">
        <h2 id="secrets-list-title">Secrets</h2>
        <PrefixSearch id="secrets-search" onSearch={setPrefix} />
        <ErrorNotice message={listError} />
        {list.loading && <Loading what="secrets" />}
        {list.items !== null && list.items.length === 0 && !list.loading && (
          <p class="empty">
            {prefix === '' ? 'No secrets in this store yet.' : `No secret name starts with “${prefix}”.`}
          </p>
        )}
        {list.items !== null && list.items.length > 0 && (
          <table class="table" aria-busy={list.loading}>
            <caption class="visually-hidden">Secrets of store {name}, by name; values are not listed</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Version</th>
                <th scope="col">Description</th>
                <th scope="col">Valid from</th>
                <th scope="col">Expires</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((secret) => (
                <tr key={secret.id} class={selected?.name === secret.name ? 'selected' : undefined}>
                  <td data-label="Name">
                    <button
                      type="button"
                      class="link"
                      aria-expanded={selected?.name === secret.name}
                      aria-controls="secret-details"
                      onClick={() => setSelected(selected?.name === secret.name ? null : secret)}
                    >
                      {secret.name}
                    </button>
                  </td>
                  <td data-label="Status">
                    <ValidityBadge secret={secret} />
                  </td>
                  <td data-label="Version">{secret.version ?? '—'}</td>
                  <td data-label="Description">{secret.description ?? ''}</td>
                  <td data-label="Valid from">{formatInstant(secret.notBefore)}</td>
                  <td data-label="Expires">{formatInstant(secret.expiresOn)}</td>
                  <td data-label="Updated">{formatInstant(secret.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <Pager
          label="Secrets pages"
          page={list.page}
          hasPrevious={list.hasPrevious}
          hasNext={list.hasNext}
          onPrevious={list.previous}
          onNext={list.next}
        />
      </section>

      {selected !== null && (
        <SecretDetails
          key={selected.name}
          storeId={storeId}
          secret={selected}
          onChanged={(secret, words) => {
            setSelected(secret);
            setDone(words);
            list.reload();
          }}
          onDeleted={(secretName) => {
            setSelected(null);
            setDone(`Secret ${secretName} deleted.`);
            list.reload();
          }}
          onClose={() => setSelected(null)}
        />
      )}
    </>
  );
}
