/** Central differences (f(v + h e_i) - f(v - h e_i)) / 2h for every element i of v, in float64. */
export function finiteDifferences(f: (v: Float64Array) => number, v: Float64Array, h: number): Float64Array {
  return Float64Array.from(v, (_, i) => {
    const keep = v[i];
    v[i] = keep + h;
    const up = f(v);
    v[i] = keep - h;
    const down = f(v);
    v[i] = keep;
    return (up - down) / (2 * h);
  });
}
