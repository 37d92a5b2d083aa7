package org.wrpn.plan;

import java.util.Objects;
import org.wrpn.BadInputException;
import org.wrpn.backend.Device;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SavePolicy;

/**
 * What to plan: a model, its width multiplier and precision, the save policy, the batch size and the
 * image shape.
 *
 * @param widthMultiplier scales every hidden layer's channels (--width)
 * @param imageWidth the images' width in pixels
 * @param device the backend whose workspace rules apply: CPU or CUDA (auto is resolved first)
 */
public record PlanRequest(String model, double widthMultiplier, PrecisionPolicy precision, SavePolicy save, int batch,
        int channels, int height, int imageWidth, int classes, Device device) {
    public PlanRequest {
        if (batch <= 0) throw new BadInputException("--batch must be positive, got " + batch);
        if (channels <= 0 || height <= 0 || imageWidth <= 0) throw new BadInputException("--input must be CxHxW with positive sizes");
        if (classes <= 1) throw new BadInputException("classes must be at least 2, got " + classes);
        if (Objects.requireNonNull(device, "device") == Device.AUTO) throw refused(device.flag());
    }

    /** Parses plan's --device: cpu or cuda. */
    public static Device parseDevice(String s) {
        if (s.equals(Device.CPU.flag())) return Device.CPU;
        if (s.equals(Device.CUDA.flag())) return Device.CUDA;
        throw refused(s);
    }

    private static BadInputException refused(String device) {
        return new BadInputException("plan --device must be cpu or cuda, got " + device);
    }

    /** Fashion-MNIST-shaped request (1x28x28, 10 classes) on the CPU. */
    public static PlanRequest of(String model, double widthMultiplier, int wbits, int abits, SavePolicy save, int batch) {
        return new PlanRequest(model, widthMultiplier, PrecisionPolicy.uniform(wbits, abits), save, batch, 1, 28, 28, 10, Device.CPU);
    }

    public PlanRequest withBatch(int b) {
        return new PlanRequest(model, widthMultiplier, precision, save, b, channels, height, imageWidth, classes, device);
    }

    /** The same model, batch and images at another width, precision and save policy. */
    public PlanRequest with(double widthMultiplier, PrecisionPolicy precision, SavePolicy save) {
        return new PlanRequest(model, widthMultiplier, precision, save, batch, channels, height, imageWidth, classes, device);
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
