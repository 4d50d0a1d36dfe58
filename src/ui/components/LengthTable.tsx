// The values behind a chart as a table: one row per series, one column per sequence length, in a
// focusable scroll region (wide tables scroll on a phone instead of widening the page).

interface Row<P extends { length: number }> {
  id: string;
  label: string;
  points: P[];
}

export function LengthTable<P extends { length: number }>(props: {
  /** The scroll region's accessible name. */
  name: string;
  caption: string;
  /** The heading of the first column (the series names). */
  rowHeading: string;
  rows: Row<P>[];
  lengths: number[];
  /** The text of one measured cell; lengths a series has no point at show "–". */
  cell: (point: P) => string;
}) {
  const { name, caption, rowHeading, rows, lengths, cell } = props;
  return (
    <div className="table-scroll" tabIndex={0} role="region" aria-label={name}>
      <table className="data">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{rowHeading}</th>
            {lengths.map((L) => (
              <th key={L} scope="col" className="num">
                {L}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.id}>
              <th scope="row">{row.label}</th>
              {lengths.map((L) => {
                const point = row.points.find((p) => p.length === L);
                return (
                  <td key={L} className="num">
                    {point ? cell(point) : '–'}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
