package org.wrpn.dist;

import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.wrpn.BadInputException;

/**
 * Single-rank step times for the scaling model: measured where wrpn's own training benchmark measured
 * them (batch 64 per rank, 4-bit weights and activations, the packed save policy), an explicit
 * assumption elsewhere, or what the user passes with --step-ms.
 *
 * <p>The assumption for an unmeasured (model, width): a straight line in trainable parameters through
 * the two measured points of the family's anchor model nearest in parameters (resnet20 for every
 * ResNet, lenet for lenet), never below the anchor's shortest measured step. On the H200 the measured
 * steps are launch-bound at batch 64 (resnet20 width 2, 4x the parameters, takes 1.03x width 1's
 * step), so the line grows slowly; a model far outside the measured range (resnet18: 41 to 370x
 * resnet20's parameters) is an extrapolation and is labelled so.
 */
public final class StepTimes {
    private StepTimes() {}

    /** A step time and where it came from. */
    public record StepTime(double ms, String source) {
        public boolean measured() {
            return source.startsWith("measured");
        }
    }

    /** One measured step: device ("cuda" or "cpu"), model, width, ms, and the file and commit it came from. */
    record Point(String device, String model, double width, double ms, String source) {}

    static final String H200 = "measured: H200, benchmarks/results/train-cuda.csv @ f01fe60, batch 64, w4a4 packed";
    static final String EPYC = "measured: 2-core EPYC, benchmarks/results/cpu-vs-pytorch-train.csv @ 75afc09, batch 64, w4a4 packed";

    static final List<Point> MEASURED = List.of(
            new Point("cuda", "lenet", 1, 2.59196, H200),
            new Point("cuda", "lenet", 2, 2.60804, H200),
            new Point("cuda", "resnet20", 1, 11.6548, H200),
            new Point("cuda", "resnet20", 2, 12.0485, H200),
            new Point("cpu", "lenet", 1, 17.4632, EPYC),
            new Point("cpu", "lenet", 2, 39.4111, EPYC),
            new Point("cpu", "lenet", 3, 63.1622, EPYC),
            new Point("cpu", "resnet20", 1, 111.147, EPYC),
            new Point("cpu", "resnet20", 2, 384.645, EPYC),
            new Point("cpu", "resnet20", 3, 688.828, EPYC));

    /** The model whose measured steps stand for a model's family. */
    static String anchor(String model) {
        return model.equals("lenet") ? "lenet" : "resnet20";
    }

    /** The default step time of a model at a width on a device: measured, else the documented assumption. */
    public static StepTime defaultFor(String device, String model, double width) {
        for (Point p : MEASURED) {
            if (p.device.equals(device) && p.model.equals(model) && p.width == width) return new StepTime(p.ms, p.source);
        }
        String anchor = anchor(model);
        List<Point> pts = MEASURED.stream().filter(p -> p.device.equals(device) && p.model.equals(anchor))
                .sorted(Comparator.comparingDouble(p -> ScalingModel.parameters(p.model, p.width))).toList();
        if (pts.size() < 2) throw new BadInputException("no measured " + device + " step of " + anchor + " to assume " + model + "'s from; pass --step-ms");
        double params = ScalingModel.parameters(model, width);
        int i = 0;
        while (i < pts.size() - 2 && params > ScalingModel.parameters(anchor, pts.get(i + 1).width)) i++;
        Point a = pts.get(i);
        Point b = pts.get(i + 1);
        double pa = ScalingModel.parameters(anchor, a.width);
        double pb = ScalingModel.parameters(anchor, b.width);
        double ms = Math.max(pts.get(0).ms, a.ms + (b.ms - a.ms) * (params - pa) / (pb - pa));
        return new StepTime(ms, String.format(Locale.ROOT, "assumed: line in parameters through %s widths %s and %s (%s)",
                anchor, width(a.width), width(b.width), a.source.substring("measured: ".length())));
    }

    /**
     * Parses --step-ms: one number for every row, or MODEL:WIDTH=MS pairs separated by commas (rows not
     * named keep their default). Returns "*" for one number, else "model:width" keys.
     */
    public static Map<String, Double> parse(String s) {
        Map<String, Double> m = new LinkedHashMap<>();
        if (s == null) return m;
        String t = s.strip();
        if (!t.contains("=")) {
            m.put("*", number(t, s));
            return m;
        }
        for (String part : t.split(",")) {
            String[] kv = part.strip().split("=", -1);
            String[] mw = kv[0].strip().split(":", -1);
            if (kv.length != 2 || mw.length != 2 || mw[0].isBlank()) {
                throw new BadInputException("--step-ms must be MS or MODEL:WIDTH=MS,... (e.g. resnet18:2=40), got " + s);
            }
            m.put(key(mw[0].strip(), number(mw[1].strip(), s)), number(kv[1].strip(), s));
        }
        return m;
    }

    /** A given step time if --step-ms names this row (or gave one number), else the default. */
    public static StepTime choose(Map<String, Double> given, String device, String model, double width) {
        Double ms = given.getOrDefault(key(model, width), given.get("*"));
        return ms != null ? new StepTime(ms, "given: --step-ms") : defaultFor(device, model, width);
    }

    static String key(String model, double width) {
        return model + ":" + width(width);
    }

    static String width(double w) {
        return w == Math.rint(w) ? String.valueOf((long) w) : String.valueOf(w);
    }

    private static double number(String t, String whole) {
        try {
            double v = Double.parseDouble(t);
            if (v > 0 && !Double.isInfinite(v)) return v;
        } catch (NumberFormatException e) {
            // fall through
        }
        throw new BadInputException("--step-ms must be a positive number of milliseconds, or MODEL:WIDTH=MS,...; got " + whole);
    }
}
