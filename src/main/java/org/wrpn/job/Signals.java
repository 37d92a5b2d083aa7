package org.wrpn.job;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;
import org.apache.logging.log4j.LogManager;

/**
 * Catches SIGTERM and SIGINT for the process contract. A JVM shutdown hook cannot choose the exit
 * code and runs while the JVM is already going down, so instead the signals are handled (through
 * sun.misc.Signal of the jdk.unsupported module, reached reflectively to keep javac quiet): the
 * handler asks the job to stop and the main thread exits with 128 + the signal's number once the
 * checkpoint is written. Where sun.misc.Signal is missing, the JVM keeps its default handling.
 */
public final class Signals implements AutoCloseable {
    private final List<Object[]> previous = new ArrayList<>(); // {Signal, old SignalHandler}
    private Method handle;

    private Signals() {}

    /** Installs {@code onSignal} (given the signal's number) for each named signal ("TERM", "INT"). */
    public static Signals install(IntConsumer onSignal, String... names) {
        Signals s = new Signals();
        try {
            Class<?> signal = Class.forName("sun.misc.Signal");
            Class<?> handlerType = Class.forName("sun.misc.SignalHandler");
            Method number = signal.getMethod("getNumber");
            s.handle = signal.getMethod("handle", signal, handlerType);
            InvocationHandler ih = (proxy, method, args) -> switch (method.getName()) {
                case "handle" -> {
                    onSignal.accept((Integer) number.invoke(args[0]));
                    yield null;
                }
                case "hashCode" -> System.identityHashCode(proxy);
                case "equals" -> proxy == args[0];
                case "toString" -> "wrpn stop handler";
                default -> null;
            };
            Object handler = Proxy.newProxyInstance(handlerType.getClassLoader(), new Class<?>[] {handlerType}, ih);
            for (String name : names) {
                Object sig = signal.getConstructor(String.class).newInstance(name);
                s.previous.add(new Object[] {sig, s.handle.invoke(null, sig, handler)});
            }
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            LogManager.getLogger(Signals.class).warn("cannot handle SIGTERM/SIGINT ({}); a signal ends the job without a checkpoint", e.toString());
        }
        return s;
    }

    @Override
    public void close() {
        for (Object[] p : previous) {
            try {
                handle.invoke(null, p[0], p[1]);
            } catch (ReflectiveOperationException | RuntimeException ignored) {
                // the process is ending anyway
            }
        }
        previous.clear();
    }
}
