package org.wrpn.choose;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.wrpn.BadInputException;
import org.wrpn.backend.Device;
import org.wrpn.sweep.SweepSpec;
import org.wrpn.train.TrainConfig;

/**
 * What `wrpn choose` is asked: a grid of candidates (widths x weight/activation bits, one seed, the
 * training settings they share), a memory budget and whose rules it is for, and a time budget for
 * the proxy runs. {@code grid.base()} is also the recommended job's: its epochs are the full
 * training's, its out the choose directory (proxy runs in OUT/proxy-IMAGES/CELL).
 *
 * @param rules the device whose workspace rules the budget is planned with: cpu or cuda
 */
public record ChooseSpec(SweepSpec grid, long budgetBytes, Device rules, Duration timeBudget) {
    /** The sweep's grid plus the fractional widths between. */
    public static final List<Double> DEFAULT_WIDTHS = List.of(1.0, 1.5, 2.0, 2.5, 3.0);
    public static final Path DEFAULT_OUT = Path.of("runs/choose");
    public static final String DEFAULT_NAME = "choose";
    public static final Duration DEFAULT_TIME_BUDGET = Duration.ofMinutes(30);
    private static final Duration LONGEST = Duration.ofDays(30);

    public ChooseSpec {
        Objects.requireNonNull(grid, "grid");
        if (grid.seeds().size() != 1) throw new BadInputException("choose ranks one seed per candidate; got seeds " + grid.seeds());
        if (budgetBytes <= 0) throw new BadInputException("--budget must be positive, got " + budgetBytes);
        if (Objects.requireNonNull(rules, "rules") == Device.AUTO) throw new BadInputException("the budget's rules must be cpu or cuda");
        if (timeBudget == null || timeBudget.isNegative() || timeBudget.isZero() || timeBudget.compareTo(LONGEST) > 0) {
            throw new BadInputException("--time-budget must be positive and at most 30 days, got " + timeBudget);
        }
    }

    /**
     * A choose from flags given as job-spec keys plus the grid keys widths, bits, jobs, results and
     * name (the sweep's; seed is the one seed): defaults as in the sweep, except the widths
     * ({@link #DEFAULT_WIDTHS}), out runs/choose and name choose.
     */
    public static ChooseSpec fromFlags(ObjectNode flags, long budgetBytes, Device rules, Duration timeBudget) {
        ObjectNode f = flags.deepCopy();
        if (!f.has("widths")) DEFAULT_WIDTHS.forEach(f.putArray("widths")::add);
        JsonNode seed = f.remove("seed");
        f.putArray("seeds").add(seed == null ? TrainConfig.defaults().seed() : seed.asLong());
        if (!f.has("out")) f.put("out", DEFAULT_OUT.toString());
        if (!f.has("name")) f.put("name", DEFAULT_NAME);
        return new ChooseSpec(SweepSpec.fromJson(null, "flags", f), budgetBytes, rules, timeBudget);
    }

    /** The choose directory. */
    public Path out() {
        return grid.base().out();
    }

    private static final Pattern PART = Pattern.compile("(\\d+(?:\\.\\d+)?)([hms])");

    /** "30m", "2h", "1h30m", "90s" or plain seconds ("1800"). */
    public static Duration parseDuration(String text) {
        String t = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
        double seconds = 0;
        try {
            if (t.matches("\\d+(\\.\\d+)?")) {
                seconds = Double.parseDouble(t);
            } else if (t.matches("(\\d+(\\.\\d+)?[hms])+")) {
                Matcher m = PART.matcher(t);
                while (m.find()) seconds += Double.parseDouble(m.group(1)) * switch (m.group(2)) {
                    case "h" -> 3600;
                    case "m" -> 60;
                    default -> 1;
                };
            } else {
                seconds = Double.NaN;
            }
        } catch (NumberFormatException e) {
            seconds = Double.NaN;
        }
        if (!(seconds >= 1) || seconds > LONGEST.toSeconds()) {
            throw new BadInputException("--time-budget must be a duration from 1s to 30 days such as 30m, 2h, 1h30m or 90s; got '" + text + "'");
        }
        return Duration.ofMillis(Math.round(seconds * 1000));
    }

    /** e.g. "30m", "1h30m", "45s". */
    public static String formatDuration(Duration d) {
        long s = d.toSeconds();
        StringBuilder sb = new StringBuilder();
        if (s >= 3600) sb.append(s / 3600).append('h');
        if (s % 3600 >= 60) sb.append(s % 3600 / 60).append('m');
        if (s % 60 > 0 || sb.isEmpty()) sb.append(s % 60).append('s');
        return sb.toString();
    }

    /** What a resumed choose must agree on: the grid and its settings and the budget (not the time budget or the report's names). */
    ObjectNode identity() {
        ObjectNode o = grid.toJson();
        for (String k : List.of("jobs", "results", "name", "out", "device", "keep_checkpoints", "checkpoint_every")) o.remove(k);
        o.put("budget_bytes", budgetBytes);
        o.put("rules", rules.flag());
        return o;
    }
}
