"""Best-of-rounds timing for the benchmarks: the contenders alternate within each round, so a noisy machine
penalises all alike, and the table reports each one's best round."""


def alternate_rounds(measures: dict, rounds: int, unit: str) -> dict[str, list[float]]:
    """Call each measure (no arguments, returns a rate) once per round, in turn: {name: [rate of each round]}."""
    rates = {name: [] for name in measures}
    for round_ in range(1, rounds + 1):
        for name, measure in measures.items():
            rates[name].append(measure())
            print(f"round {round_}: {name:<22} {rates[name][-1]:6.1f} {unit}", flush=True)
    return rates


def print_table(rates: dict[str, list[float]], first_column: str, unit: str) -> None:
    """A markdown table: name, best rate, every round's rate."""
    width = max(len(first_column), *map(len, rates))
    print(f"| {first_column:<{width}} | {unit:>9} | all rounds |")
    print(f"|{'-' * (width + 2)}|{'-' * (max(9, len(unit)) + 2)}|------------|")
    for name, values in rates.items():
        print(f"| {name:<{width}} | {max(values):{max(9, len(unit))}.1f} | {', '.join(f'{v:.1f}' for v in values)} |")
