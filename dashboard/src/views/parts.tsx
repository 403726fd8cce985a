/** Pieces the Campaigns, Workflows and Connections views share. */

/** A table's header row, one cell a column name. */
export function TableHead({ cols }: { cols: string[] }) {
  return (
    <thead>
      <tr>
        {cols.map((c) => (
          <th key={c}>{c}</th>
        ))}
      </tr>
    </thead>
  );
}

/** A filter by status: `every` (the empty value) or one of `options`. */
export function StatusSelect(props: {
  label: string;
  every: string;
  options: string[];
  value: string;
  onChange: (value: string) => void;
}) {
  return (
    <select aria-label={props.label} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
      <option value="">{props.every}</option>
      {props.options.map((s) => (
        <option key={s} value={s}>
          {s}
        </option>
      ))}
    </select>
  );
}
