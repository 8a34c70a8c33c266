import { fromLocalInput } from './time-format.js';

/** The editable metadata of a secret, as the form holds it (strings, local times). */
export interface MetadataDraft {
  description: string;
  scopes: string;
  notBefore: string;
  expiresOn: string;
}

export function scopesOf(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** The draft as a `/v1` write: empty strings clear (null), times become ISO UTC. */
export function metadataWrite(draft: MetadataDraft) {
  return {
    description: draft.description.trim() === '' ? null : draft.description,
    scopes: scopesOf(draft.scopes),
    notBefore: fromLocalInput(draft.notBefore),
    expiresOn: fromLocalInput(draft.expiresOn),
  };
}

interface Props {
  readonly idPrefix: string;
  readonly draft: MetadataDraft;
  readonly onChange: (draft: MetadataDraft) => void;
}

/** Description, scopes and validity window: shared by the create and edit forms. */
export function MetadataFields({ idPrefix, draft, onChange }: Props) {
  const set = (patch: Partial<MetadataDraft>) => onChange({ ...draft, ...patch });
  return (
    <>
      <div class="field">
        <label for={`${idPrefix}-description`}>Description</label>
        <input
          id={`${idPrefix}-description`}
          value={draft.description}
          maxLength={1024}
          onInput={(e) => set({ description: e.currentTarget.value })}
          autoComplete="off"
        />
      </div>
      <div class="field">
        <label for={`${idPrefix}-scopes`}>Scopes</label>
        <input
          id={`${idPrefix}-scopes`}
          value={draft.scopes}
          onInput={(e) => set({ scopes: e.currentTarget.value })}
          aria-describedby={`${idPrefix}-scopes-help`}
          autoComplete="off"
        />
        <span id={`${idPrefix}-scopes-help`} class="help">
          Comma-separated, e.g. <code>workers, ci</code>.
        </span>
      </div>
      <fieldset class="window">
        <legend>Validity window (your local time; empty: no bound)</legend>
        <div class="field">
          <label for={`${idPrefix}-not-before`}>Valid from</label>
          <input
            id={`${idPrefix}-not-before`}
            type="datetime-local"
            value={draft.notBefore}
            onInput={(e) => set({ notBefore: e.currentTarget.value })}
          />
        </div>
        <div class="field">
          <label for={`${idPrefix}-expires-on`}>Expires on</label>
          <input
            id={`${idPrefix}-expires-on`}
            type="datetime-local"
            value={draft.expiresOn}
            onInput={(e) => set({ expiresOn: e.currentTarget.value })}
          />
        </div>
      </fieldset>
    </>
  );
}
