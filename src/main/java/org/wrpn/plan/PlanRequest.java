package org.wrpn.plan;

import org.wrpn.BadInputException;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SavePolicy;

/**
 * What to plan: a model, its width and precision, the save policy, the batch size and the image shape.
 *
 * @param device the backend whose workspace rules apply: "cpu" or "cuda"
 */
public record PlanRequest(String model, double width, PrecisionPolicy precision, SavePolicy save, int batch,
        int channels, int height, int imageWidth, int classes, String device) {
    public PlanRequest {
        if (batch <= 0) throw new BadInputException("--batch must be positive, got " + batch);
        if (channels <= 0 || height <= 0 || imageWidth <= 0) throw new BadInputException("--input must be CxHxW with positive sizes");
        if (classes <= 1) throw new BadInputException("classes must be at least 2, got " + classes);
        if (!device.equals("cpu") && !device.equals("cuda")) throw new BadInputException("plan --device must be cpu or cuda, got " + device);
    }

    /** Fashion-MNIST-shaped request (1x28x28, 10 classes) on the CPU. */
    public static PlanRequest of(String model, double width, int wbits, int abits, SavePolicy save, int batch) {
        return new PlanRequest(model, width, PrecisionPolicy.uniform(wbits, abits), save, batch, 1, 28, 28, 10, "cpu");
    }

    public PlanRequest withBatch(int b) {
        return new PlanRequest(model, width, precision, save, b, channels, height, imageWidth, classes, device);
    }

    /** Parses "CxHxW", e.g. 3x32x32. */
    public static int[] parseInput(String s) {
        String[] p = s.toLowerCase().split("x");
        if (p.length != 3) throw new BadInputException("--input must be CxHxW (e.g. 3x32x32), got " + s);
        int[] v = new int[3];
        try {
            for (int i = 0; i < 3; i++) v[i] = Integer.parseInt(p[i].trim());
        } catch (NumberFormatException e) {
            throw new BadInputException("--input must be CxHxW with integers (e.g. 3x32x32), got " + s);
        }
        for (int x : v) if (x <= 0 || x > 100_000) throw new BadInputException("--input sizes must be positive, got " + s);
        return v;
    }
}
